import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { experimental, status, type ChannelOptions, type ClientOptions } from "@grpc/grpc-js";
import { clientOptions } from "./client.js";

/** One replica of a service: where a connection to it goes. */
export interface Replica {
  host: string;
  port: number;
}

/** Every replica a host name stands for; the default asks the system resolver (DNS). */
export type Lookup = (host: string, port: number) => Promise<Replica[]>;

export const systemLookup: Lookup = async (host, port) => (await dnsLookup(host, { all: true })).map(({ address }) => ({ host: address, port }));

/**
 * How often the replicas of an address are looked up again, so that calls follow replicas as they
 * come and go. A Kubernetes headless Service's name lists its ready pods only, so a pod that fails
 * its readiness probe leaves the rotation at the next lookup.
 */
export const RESOLVE_EVERY_MS = 5_000;

/** Replicas one address may name: far more than any deployment runs. */
const MAX_REPLICAS = 256;

/** "host:port", "[v6]:port"; the port is required. */
function parseHostPort(entry: string): Replica {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(entry.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) throw new Error(`"${entry.slice(0, 100)}" is not host:port`);
  return { host: match[1] ?? match[2]!, port };
}

/**
 * The replicas a service address names: `host:port` is every address the host resolves to (a
 * headless Service's pods), `a:1,b:2` each of those in turn (replicas on one machine, each on
 * its own port).
 */
export async function resolveReplicas(address: string, lookup: Lookup = systemLookup): Promise<Replica[]> {
  const entries = address.split(",").filter((e) => e.trim() !== "");
  if (entries.length === 0 || entries.length > MAX_REPLICAS) throw new Error(`an address names 1 to ${MAX_REPLICAS} host:port entries`);
  const found = new Map<string, Replica>();
  for (const entry of entries) {
    const { host, port } = parseHostPort(entry);
    const replicas = isIP(host) ? [{ host, port }] : await lookup(host, port);
    for (const r of replicas.slice(0, MAX_REPLICAS)) found.set(replicaKey(r), r);
  }
  return [...found.values()].sort((a, b) => replicaKey(a).localeCompare(replicaKey(b)));
}

export const replicaKey = (r: Replica) => (isIP(r.host) === 6 ? `[${r.host}]:${r.port}` : `${r.host}:${r.port}`);

const SCHEME = "chirp-replicas";
/** Lookups other than the system's, by the id their targets carry (tests). */
const lookups = new Map<string, Lookup>();
let lookupIds = 0;

/**
 * A grpc-js name resolver for service addresses: looks the replicas up when the channel starts
 * and every RESOLVE_EVERY_MS after, and when grpc-js asks (a connection failed).
 */
class ReplicaResolver implements experimental.Resolver {
  private readonly address: string;
  private readonly lookup: Lookup;
  private timer: NodeJS.Timeout | undefined;
  private resolving = false;
  private destroyed = false;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
  ) {
    const at = target.path.indexOf("@");
    const id = at > 0 ? target.path.slice(0, at) : undefined;
    this.address = at > 0 ? target.path.slice(at + 1) : target.path;
    this.lookup = (id && lookups.get(id)) || systemLookup;
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    const path = target.path.slice(target.path.indexOf("@") + 1);
    return path.split(",")[0]!.trim();
  }

  updateResolution(): void {
    this.destroyed = false;
    if (this.resolving) return;
    this.resolving = true;
    clearTimeout(this.timer);
    resolveReplicas(this.address, this.lookup)
      .then(
        (replicas) => {
          if (this.destroyed) return;
          if (replicas.length === 0) throw new Error("no replica found");
          this.listener(experimental.statusOrFromValue(replicas.map((r) => ({ addresses: [r] }))), {}, null, "");
        },
        (error: unknown) => {
          if (this.destroyed) return;
          const details = `no replica of ${this.address} found: ${(error as Error)?.message ?? error}`;
          this.listener(experimental.statusOrFromError({ code: status.UNAVAILABLE, details }), {}, null, "");
        },
      )
      .catch((error: unknown) => {
        if (!this.destroyed) this.listener(experimental.statusOrFromError({ code: status.UNAVAILABLE, details: String((error as Error)?.message ?? error) }), {}, null, "");
      })
      .finally(() => {
        this.resolving = false;
        if (this.destroyed) return;
        this.timer = setTimeout(() => this.updateResolution(), RESOLVE_EVERY_MS);
        this.timer.unref();
      });
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.timer);
  }
}

experimental.registerResolver(SCHEME, ReplicaResolver);

/**
 * The grpc-js target for a service address (see `resolveReplicas`): calls are spread round-robin
 * over every replica it names, following them as they come and go. `lookup` replaces DNS (tests).
 */
export function replicaTarget(address: string, lookup?: Lookup): string {
  if (!lookup) return `${SCHEME}:${address}`;
  const id = `l${++lookupIds}`;
  lookups.set(id, lookup);
  return `${SCHEME}:${id}@${address}`;
}

/** Calls that may be sent again: the contract says they change nothing. */
export const retriesSafely = (idempotency: MethodOptions_IdempotencyLevel) => idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

/** Attempts of a call that may be retried, on another replica; all within the call's deadline. */
export const MAX_ATTEMPTS = 3;

/**
 * Client options for a service's replicas: round-robin over every ready one (a replica whose
 * connection fails leaves the rotation until it reconnects), and the methods marked
 * NO_SIDE_EFFECTS retried on UNAVAILABLE, at most MAX_ATTEMPTS times and never past the deadline.
 * A call that never left (no replica connected) is retried by grpc-js whatever its method.
 */
export function balancedClientOptions(service: DescService, extra: ChannelOptions = {}): ClientOptions {
  const safe = service.methods.filter((m) => retriesSafely(m.idempotency)).map((m) => ({ service: service.typeName, method: m.name }));
  const serviceConfig = {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig:
      safe.length === 0
        ? []
        : [
            {
              name: safe,
              retryPolicy: { maxAttempts: MAX_ATTEMPTS, initialBackoff: "0.02s", maxBackoff: "0.2s", backoffMultiplier: 2, retryableStatusCodes: ["UNAVAILABLE"] },
            },
          ],
  };
  return { ...clientOptions(), ...extra, "grpc.service_config": JSON.stringify(serviceConfig) };
}
