#!/usr/bin/env node
// Writes the NATS server's authorization, as the service catalogue declares it
// (packages/kit/src/nats/authorization.ts), into the nats.conf files of k8s/: between the
// "BEGIN generated authorization" and "END generated authorization" lines, the rest of each file
// untouched. `npm run k8s:nats-authorization` builds the kit first; k8s/test/manifests.test.ts
// fails when a file differs from what this would write.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { natsAuthorization } from "../packages/kit/dist/nats/authorization.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const NATS_CONF_FILES = ["k8s/base/nats.conf", "k8s/overlays/prod/nats.conf"];
const BEGIN = "# BEGIN generated authorization (npm run k8s:nats-authorization; do not edit by hand)";
const END = "# END generated authorization";

/** The file's text with its generated block replaced (or appended when it has none). */
export function withAuthorization(text) {
  const block = `${BEGIN}\n${natsAuthorization()}${END}\n`;
  const start = text.indexOf(BEGIN);
  if (start < 0) return `${text.trimEnd()}\n\n${block}`;
  const end = text.indexOf(END, start);
  if (end < 0) throw new Error(`"${END}" is missing`);
  return text.slice(0, start) + block + text.slice(end + END.length + 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of NATS_CONF_FILES) {
    const path = join(root, file);
    const before = readFileSync(path, "utf8");
    const after = withAuthorization(before);
    if (after !== before) writeFileSync(path, after);
    console.log(`nats-authorization: ${after === before ? "unchanged" : "rewrote"} ${file}`);
  }
}
