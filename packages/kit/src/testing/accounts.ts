import type { Accounts } from "../accounts.js";

/** Every account is live: for domain tests in which the users service plays no part. */
export const everyoneLive: Accounts = { isLive: async () => true };

/** Accounts as the users service would answer, with those added to `deleted` deleted; `asked` lists every id checked. */
export function accountsWithDeletions() {
  const deleted = new Set<string>();
  const asked: string[] = [];
  const accounts: Accounts = {
    isLive: async (userId) => {
      asked.push(userId);
      return !deleted.has(userId);
    },
  };
  return { accounts, deleted, asked };
}
