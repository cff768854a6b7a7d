import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

/** Who may call a method through the gateway. Everything not listed needs a valid token. */
export type Access = "public" | "authenticated" | "internal";

const PUBLIC = new Set(["chirp.users.v1.UsersService.CreateUser", "chirp.users.v1.UsersService.Login"]);
/** For other services only: the gateway refuses them. */
const INTERNAL = new Set(["chirp.graph.v1.GraphService.ListFollowerIds"]);

export const ADMIN_ROLE = "admin";

export function accessOf(method: DescMethod): Access {
  const name = `${method.parent.typeName}.${method.name}`;
  if (INTERNAL.has(name)) return "internal";
  if (PUBLIC.has(name)) return "public";
  return "authenticated";
}

/** Reads are free; anything that may change state counts against the caller's write budget. */
export const isWrite = (method: DescMethod) => method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
