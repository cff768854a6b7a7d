import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { experimental, Metadata, type ChannelCredentials } from "@grpc/grpc-js";
import { AUTHORIZATION_KEY, REQUEST_ID_KEY } from "../grpc/metadata.js";
import { MeshCertificateSet, type MeshCa } from "../grpc/mesh-ca.js";
import { expectWorkload, meshCertificates, type MeshTls } from "../grpc/tls.js";
import { generateSigningKeyPair, TokenSigner, verifierFor, type TokenVerifier } from "../tokens.js";
import type { CallGuard } from "../grpc/bind.js";
import { GATEWAY_PEER, type PeerRules } from "../grpc/peers.js";

/**
 * Identities for tests, made once per test file: a token key pair standing for the users
 * service's (every service under test verifies with its public half) and a throwaway mesh CA with
 * a certificate per workload, in a directory removed when the process exits.
 */
const keys = generateSigningKeyPair();
const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 3_600 });

/** The public key services under test verify access tokens with (AUTH_PUBLIC_KEY). */
export const TEST_PUBLIC_KEY = keys.publicKeyPem;
/** The private half, for processes that sign (a users service under test). */
export const TEST_SIGNING_KEY = keys.privateKeyPem;

/** A valid access token for `id`, as the users service would issue one. */
export function accessToken(id: string, options: { roles?: string[]; sessionId?: string; now?: number } = {}): string {
  return signer.sign(id, options.roles ?? [], options.now ?? Date.now(), options.sessionId).token;
}

/**
 * The metadata a signed-in caller's call arrives with through the gateway: their access token.
 * How every service test says who is calling, so a change to how identity travels between hops is
 * made here once.
 */
export function asCaller(id: string, options: { roles?: string[]; requestId?: string; sessionId?: string } = {}): Metadata {
  const metadata = new Metadata();
  metadata.set(AUTHORIZATION_KEY, `Bearer ${accessToken(id, options)}`);
  if (options.requestId) metadata.set(REQUEST_ID_KEY, options.requestId);
  return metadata;
}

let certificates: MeshCertificateSet | undefined;

/**
 * The test file's mesh CA and certificates (made on first use, removed at exit): pass it to
 * startMesh as `certificates` so that a test's clients and the mesh trust one CA.
 */
export function testCertificates(): MeshCertificateSet {
  if (!certificates) {
    const made = new MeshCertificateSet();
    process.once("exit", () => made.remove());
    certificates = made;
  }
  return certificates;
}

/** The test CA, for tests that issue certificates of their own. */
export const testCa = (): MeshCa => testCertificates().ca;

/** A directory of the test's own, removed at exit, for certificate files a test writes. */
export const testTlsDir = (name: string): string => join(testCertificates().dir, name);

/** The certificate files of `workload`, issued by the test CA (the same files for the whole file). */
export function testTls(workload: string): MeshTls {
  return { ...testCertificates().filesOf(workload), reloadMs: 100 };
}

/** The TLS_* settings of `workload`, for a process or configuration under test. */
export function testTlsEnv(workload: string): Record<string, string> {
  const files = testTls(workload);
  return { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, TLS_CA_FILE: files.caFile, TLS_RELOAD_MS: "100" };
}

/** Everything a service under test needs to verify callers and speak mutual TLS as `workload`. */
export function testIdentityEnv(workload: string): Record<string, string> {
  return { AUTH_PUBLIC_KEY: TEST_PUBLIC_KEY, ...testTlsEnv(workload) };
}

/**
 * A test client's channel credentials: mutual TLS as `workload` (the gateway by default, which
 * may call every RPC users can reach), checking the server is `server` when named.
 */
export function testChannel(workload = "gateway", server?: string): ChannelCredentials {
  const provider = meshCertificates(testTls(workload));
  return experimental.createCertificateProviderChannelCredentials(provider, provider, { checkServerIdentity: expectWorkload(server) });
}

/** A verifier of the test tokens (asCaller, accessToken), as a service under test has one. */
export const testTokenVerifier = (): TokenVerifier => verifierFor(TEST_PUBLIC_KEY);

/**
 * What `bindService` guards a test server's calls with: the test tokens, mutual TLS, and every RPC
 * open to the gateway (the test clients' identity) unless `peers` says otherwise.
 */
export function testCallGuard<D extends object>(definition: D, peers: Partial<PeerRules<D>> = {}): CallGuard<D> {
  const rules = Object.fromEntries(Object.keys(definition).map((name) => [name, [GATEWAY_PEER]])) as unknown as PeerRules<D>;
  return { peers: { ...rules, ...peers }, tokens: testTokenVerifier(), tls: true };
}

/** `buf curl` flags for calling `server` over mutual TLS as the gateway, with the test certificates. */
export function asGatewayForBuf(server: string): string[] {
  const files = testTls("gateway");
  return ["--cacert", files.caFile, "--cert", files.certFile, "--key", files.keyFile, "--servername", server];
}
