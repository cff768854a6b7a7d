import { ConfigError, createLogger, isDomainError } from "@chirp/kit";
import { connectMongo } from "@chirp/kit/mongo";
import { loadDatabaseConfig } from "./config.js";
import { role as validRole, RoleAdministration, ROLES } from "./domain/roles.js";
import { userId as validUserId } from "./domain/validation.js";
import { MongoUserRepository } from "./storage/mongo.js";

export const USAGE = `usage: node dist/admin.js <command>
  grant <user-id> <role>    add a role to the account with this id
  revoke <user-id> <role>   remove a role from it
  show <user-id>            print the account's username and roles
roles: ${ROLES.join(", ")}. Reads MONGODB_URI and MONGODB_DATABASE as the service does.
A change shows in the user's next login (tokens carry the roles of their login until they expire).`;

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Exit codes: 0 done, 1 refused or failed (an unknown id, an unreachable database), 2 a usage or configuration mistake. */
export async function runAdminCommand(args: string[], env: Record<string, string | undefined>, io: Output): Promise<number> {
  const [command, userId, role] = args;
  if (!["grant", "revoke", "show"].includes(command ?? "") || args.length !== (command === "show" ? 2 : 3)) {
    io.err(USAGE);
    return 2;
  }
  let config;
  try {
    // The arguments are checked before anything connects.
    validUserId(userId!, "user_id");
    if (command !== "show") validRole(role!);
    config = loadDatabaseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError) && !isDomainError(error)) throw error;
    io.err(error.message);
    return 2;
  }
  const log = createLogger("users-admin", config.logLevel);
  let connection;
  try {
    connection = await connectMongo(config.mongo.uri, config.mongo.database, log, "chirp-users-admin", undefined, config.mongo);
    const roles = new RoleAdministration(await MongoUserRepository.open(connection.db));
    const id = userId!;
    const result = command === "grant" ? await roles.grant(id, role!) : command === "revoke" ? await roles.revoke(id, role!) : await roles.show(id);
    log.info({ command, userId: id, role, roles: result.roles }, "roles");
    io.out(`${id} (${result.username}): ${result.roles.length > 0 ? `roles ${result.roles.join(", ")}` : "no roles"}`);
    return 0;
  } catch (error) {
    if (!isDomainError(error)) {
      log.error({ err: error }, "admin command failed");
      io.err(`failed: ${(error as Error).message}`);
      return 1;
    }
    io.err(`${error.code}: ${error.message}`);
    return 1;
  } finally {
    await connection?.close();
  }
}
