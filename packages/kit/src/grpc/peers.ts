import { permissionDenied, type DomainError } from "../errors.js";

/**
 * Which workloads may call each RPC of a service, by the identity their mesh certificate names
 * (`gateway`, `timeline`, …). Every service declares one table next to its handlers
 * (`src/grpc/peers.ts`), with a row for every RPC (the type asks for it), and the kit enforces it
 * on every call before the handler runs: any other identity gets PERMISSION_DENIED naming itself.
 * The gateway's rows are what gateway/src/access.ts serves, and a test holds the two together
 * (mesh/test/peer-rules.test.ts).
 *
 * On a plaintext development mesh (no TLS files configured) there are no identities, and the
 * table is not enforced: that fallback is logged at start and refused in production.
 */
export type PeerRules<D> = { readonly [K in keyof D]: readonly string[] };

/** The workload name of the public entry, which forwards the RPCs access.ts serves. */
export const GATEWAY_PEER = "gateway";

/** The refusal of a call from a peer that the rule does not name, or undefined when it may call. */
export function peerRefusal(path: string, allowed: readonly string[] | undefined, peer: string | undefined): DomainError | undefined {
  if (peer !== undefined && allowed?.includes(peer)) return undefined;
  const who = peer === undefined ? "a caller without a mesh identity" : `"${peer}"`;
  const may = allowed && allowed.length > 0 ? `only ${allowed.map((p) => `"${p}"`).join(", ")} may` : "no workload may";
  return permissionDenied(`${who} may not call ${path}: ${may}`);
}
