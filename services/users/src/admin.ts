import { runAdminCommand } from "./admin-command.js";

/**
 * The operator's command for roles, run beside the service with its environment, e.g.
 * `kubectl exec deploy/users -- node dist/admin.js grant <user-id> admin`. It is how the first
 * admin is made: nobody holds the role yet to call SetUserRoles.
 */
runAdminCommand(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
