import { invalidArgument, notFound } from "@chirp/kit";
import type { UserRepository } from "./ports.js";
import * as valid from "./validation.js";

export const ADMIN_ROLE = "admin";

/** Every role an account can hold. A closed set: a role nobody checks for is a typo waiting to matter. */
export const ROLES: readonly string[] = [ADMIN_ROLE];

const KNOWN = new Set(ROLES);
/** More than there are roles, so a list with a few duplicates still passes, but bounded before any work. */
const MAX_ROLES = 8;
const MAX_ROLE_LENGTH = 32;

export function role(value: string, field = "role"): string {
  if (value.length > MAX_ROLE_LENGTH || !KNOWN.has(value)) {
    const shown = value.length > MAX_ROLE_LENGTH ? `${value.slice(0, MAX_ROLE_LENGTH)}…` : value;
    throw invalidArgument(field, `"${shown}" is not a role; roles are: ${ROLES.join(", ")}`);
  }
  return value;
}

/** A list of roles as given: each must be known; duplicates count once. Sorted, so stored lists compare equal. */
export function roleList(roles: readonly string[], field = "roles"): string[] {
  if (roles.length > MAX_ROLES) throw invalidArgument(field, `may hold at most ${MAX_ROLES} roles`);
  return [...new Set(roles.map((value, i) => role(value, `${field}[${i}]`)))].sort();
}

/**
 * Stores an account's roles. No permission check: this is the operator's own path (the admin command,
 * the embedded mesh's demo data) and the step `Users.setUserRoles` takes once it has checked its caller.
 * Roles live on the account, found by its id: never by a name, which anyone could register.
 */
export class RoleAdministration {
  constructor(private readonly repository: UserRepository) {}

  /** The account's roles from now on; NOT_FOUND naming `field` when no account has the id. */
  async setRoles(id: string, roles: readonly string[], field = "user_id"): Promise<string[]> {
    const userId = valid.userId(id, field);
    const wanted = roleList(roles);
    const stored = await this.repository.setRoles(userId, wanted);
    if (!stored) throw notFound(field, `no user has id "${userId}"`);
    return stored.roles;
  }

  async grant(id: string, granted: string): Promise<{ username: string; roles: string[] }> {
    role(granted);
    return this.change(id, (roles) => [...roles, granted]);
  }

  async revoke(id: string, revoked: string): Promise<{ username: string; roles: string[] }> {
    role(revoked);
    return this.change(id, (roles) => roles.filter((r) => r !== revoked));
  }

  /** The account's username (for the operator to see whom an id names) and roles. */
  async show(id: string, field = "user_id"): Promise<{ username: string; roles: string[] }> {
    const account = await this.repository.findById(valid.userId(id, field));
    if (!account) throw notFound(field, `no user has id "${id}"`);
    return { username: account.username, roles: account.roles };
  }

  private async change(id: string, apply: (roles: string[]) => string[]) {
    const { username, roles } = await this.show(id);
    return { username, roles: await this.setRoles(id, apply(roles)) };
  }
}
