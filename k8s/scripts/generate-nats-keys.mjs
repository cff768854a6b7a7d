#!/usr/bin/env node
// Generates each Chirp process's NATS user: an nkey pair per process (every folder services/<name>
// with a k8s/ folder, and the gateway), which the dev overlay turns into two Secrets:
//
//   k8s/overlays/dev/secrets/nats/<process>.nk        the user's seed (SU…): only that process mounts it
//   k8s/overlays/dev/secrets/nats-public-nkeys.env    CHIRP_NKEY_<PROCESS>=U…: the NATS server's
//                                                     environment, which its nats.conf reads
//
// skaffold runs it before rendering (skaffold.yaml, manifests.hooks). Existing valid keys are kept;
// delete the folder for new ones. The folder is git-ignored. The NATS server holds only the public
// keys; a seed signs the server's challenge and never travels.
//
// Usage: node k8s/scripts/generate-nats-keys.mjs [OUTPUT_DIR]
// With OUTPUT_DIR it writes there instead (to create production Secrets, see k8s/README.md).
//
// No dependency: it runs on the host before anything is installed or built, so the nkey encoding
// (base32 of a prefix byte, the Ed25519 key and a CRC-16) is written out here;
// k8s/test/manifests.test.ts checks it against @nats-io/nkeys.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = process.cwd();
const outputDir = resolve(process.argv[2] ?? join(here, "../overlays/dev/secrets"));

/** The processes that connect to NATS: each service with manifests, and the gateway. */
const processes = [
  ...readdirSync(join(root, "services"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, "services", entry.name, "k8s")))
    .map((entry) => entry.name)
    .sort(),
  "gateway",
];

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PREFIX_SEED = 18 << 3; // "S"
const PREFIX_USER = 20 << 3; // "U"

function base32(bytes) {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** CRC-16/XMODEM, appended little-endian, as nkeys checks it. */
function withCrc(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return Buffer.concat([bytes, Buffer.from([crc & 0xff, crc >> 8])]);
}

/** A user nkey pair: the seed (SU…) and the public key (U…). */
function userKey() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const raw = Buffer.from(jwk.d, "base64url");
  const publicRaw = Buffer.from(jwk.x, "base64url");
  const seed = base32(withCrc(Buffer.concat([Buffer.from([PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3]), raw])));
  const publicKey = base32(withCrc(Buffer.concat([Buffer.from([PREFIX_USER]), publicRaw])));
  return { seed, publicKey };
}

/** The public key of a seed this script wrote, or undefined when it is not one. */
function publicKeyOf(seed) {
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) return undefined;
  const bits = [...seed].map((c) => ALPHABET.indexOf(c).toString(2).padStart(5, "0")).join("");
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const payload = bytes.subarray(0, 34);
  if (!withCrc(payload).equals(bytes.subarray(0, 36))) return undefined;
  // PKCS#8 wrapping of a raw Ed25519 private key (RFC 8410), so node:crypto derives its public half.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), payload.subarray(2)]);
  const x = Buffer.from(createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({ format: "jwk" }).x, "base64url");
  return base32(withCrc(Buffer.concat([Buffer.from([PREFIX_USER]), x])));
}

const variable = (process) => `CHIRP_NKEY_${process.toUpperCase().replace(/-/g, "_")}`;
const seedsDir = join(outputDir, "nats");
const publicFile = join(outputDir, "nats-public-nkeys.env");
mkdirSync(seedsDir, { recursive: true, mode: 0o700 });
const lines = [];
let kept = 0;
for (const process of processes) {
  const file = join(seedsDir, `${process}.nk`);
  const existing = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  let publicKey = existing ? publicKeyOf(existing) : undefined;
  if (publicKey) kept++;
  else {
    const key = userKey();
    writeFileSync(file, `${key.seed}\n`, { mode: 0o600 });
    publicKey = key.publicKey;
  }
  lines.push(`${variable(process)}=${publicKey}`);
}
writeFileSync(publicFile, `${lines.join("\n")}\n`, { mode: 0o644 });
console.log(`generate-nats-keys: ${kept === processes.length ? "keeping" : "wrote"} the NATS users of ${processes.join(", ")} in ${outputDir}`);
