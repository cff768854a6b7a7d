#!/usr/bin/env node
// Generates the development token key pair and mesh certificates that the dev overlay turns into
// Secrets:
//
//   k8s/overlays/dev/secrets/auth-signing-key.pem   PKCS#8 PEM Ed25519 private key (users)
//   k8s/overlays/dev/secrets/auth-public-key.pem    SPKI PEM public key (gateway and services)
//   k8s/overlays/dev/secrets/mesh-tls/<name>/       tls.crt, tls.key, ca.crt: each workload's
//                                                   certificate from a development mesh CA
//
// The certificates are made by the kit's certificate maker (packages/kit/dist/grpc/mesh-ca.js:
// `npm run build` first); they are kept while they verify and have more than a week left.
//
// skaffold runs it before rendering the manifests (skaffold.yaml, manifests.hooks). An existing
// pair is kept, so the Secrets, and the tokens signed with them, stay the same from one run to
// the next; delete the folder for a new pair. The folder is git-ignored: these keys are for a
// development cluster only and are never committed.
//
// Usage: node k8s/scripts/generate-dev-keys.mjs [OUTPUT_DIR]
// With OUTPUT_DIR it writes there instead (for instance to create production Secrets from a
// freshly generated pair, see k8s/README.md).
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outputDir = resolve(process.argv[2] ?? join(here, "../overlays/dev/secrets"));
const privatePath = join(outputDir, "auth-signing-key.pem");
const publicPath = join(outputDir, "auth-public-key.pem");

/** True when both files exist and the public key is the private key's own half. */
function existingPairIsValid() {
  if (!existsSync(privatePath) || !existsSync(publicPath)) return false;
  try {
    const privateKey = createPrivateKey(readFileSync(privatePath));
    const derived = createPublicKey(privateKey).export({ type: "spki", format: "pem" });
    return privateKey.asymmetricKeyType === "ed25519" && derived.trim() === readFileSync(publicPath, "utf8").trim();
  } catch {
    return false;
  }
}

if (existingPairIsValid()) {
  console.log(`generate-dev-keys: keeping the key pair in ${outputDir}`);
} else {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  mkdirSync(outputDir, { recursive: true, mode: 0o700 });
  writeFileSync(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(publicPath, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  console.log(`generate-dev-keys: wrote a new Ed25519 key pair to ${outputDir}`);
}

// The mesh certificates: one CA for the development cluster, a certificate per workload.
const WORKLOADS = ["users", "tweets", "graph", "timeline", "notifications", "gateway"];
const meshDir = join(outputDir, "mesh-tls");
const WEEK_MS = 7 * 86_400_000;

function existingCertificatesAreValid() {
  try {
    return WORKLOADS.every((name) => {
      const dir = join(meshDir, name);
      const cert = new X509Certificate(readFileSync(join(dir, "tls.crt")));
      const ca = new X509Certificate(readFileSync(join(dir, "ca.crt")));
      return (
        cert.checkIssued(ca) &&
        cert.verify(ca.publicKey) &&
        cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, "tls.key")))) &&
        cert.subjectAltName?.includes(`URI:spiffe://chirp/${name}`) &&
        new Date(cert.validTo).getTime() - Date.now() > WEEK_MS
      );
    });
  } catch {
    return false;
  }
}

if (existingCertificatesAreValid()) {
  console.log(`generate-dev-keys: keeping the mesh certificates in ${meshDir}`);
} else {
  const maker = join(here, "../../packages/kit/dist/grpc/mesh-ca.js");
  if (!existsSync(maker)) {
    console.error(`generate-dev-keys: ${maker} is missing; run npm run build first (it makes the mesh certificates)`);
    process.exit(1);
  }
  const { createMeshCa, writeWorkloadFiles } = createRequire(import.meta.url)(maker);
  const ca = createMeshCa();
  for (const name of WORKLOADS) writeWorkloadFiles(join(meshDir, name), ca, ca.issue(name, { validForMs: 90 * 86_400_000 }));
  console.log(`generate-dev-keys: wrote a development mesh CA and certificates for ${WORKLOADS.join(", ")} to ${meshDir}`);
}
