import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway certificate authority for the mesh and the workload certificates it issues, made
 * with node:crypto alone: `npm start`, `npm run cluster` and the tests make one at start. On
 * Kubernetes cert-manager issues the same shape of certificate (k8s/components/mesh-tls).
 *
 * A workload's identity is its service name, carried as the URI SAN `spiffe://chirp/<name>` (also
 * the CN, for people reading it; only the URI counts). Keys are ECDSA P-256, signatures
 * ecdsa-with-SHA256: what every TLS stack accepts.
 */

export const IDENTITY_PREFIX = "spiffe://chirp/";

/** A workload's name: lower case letters, digits and "-", as the service catalogue names them. */
const WORKLOAD_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The workload a certificate names, from its URI SAN, or undefined when it names none (or several). */
export function workloadIdentity(subjectAltName: string | undefined): string | undefined {
  if (!subjectAltName) return undefined;
  const names = subjectAltName
    .split(", ")
    .filter((entry) => entry.startsWith(`URI:${IDENTITY_PREFIX}`))
    .map((entry) => entry.slice(`URI:${IDENTITY_PREFIX}`.length));
  return names.length === 1 && WORKLOAD_NAME.test(names[0]!) ? names[0] : undefined;
}

// --- DER, only as much as a certificate needs -------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const explicit = (n: number, item: Buffer) => tlv(0xa0 + n, item);
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const octets = (data: Buffer) => tlv(0x04, data);
const bits = (data: Buffer) => tlv(0x03, Buffer.from([0]), data);
function integer(data: Buffer): Buffer {
  let i = 0;
  while (i < data.length - 1 && data[i] === 0) i++;
  const trimmed = data.subarray(i);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(date: Date): Buffer {
  // UTCTime until 2049, GeneralizedTime after, as RFC 5280 says.
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}
const name = (commonName: string) => sequence(set(sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from(commonName)))));
const extension = (id: string, critical: boolean, value: Buffer) => sequence(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

/** Key identifier: SHA-1 of the public key bits (RFC 5280 method 1), as OpenSSL computes it. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  // The BIT STRING is the SubjectPublicKeyInfo's last element: for P-256, its last 65 bytes.
  return createHash("sha1").update(spki.subarray(spki.length - 65)).digest();
}

interface Issued {
  certificatePem: string;
  privateKeyPem: string;
}

export interface MeshCa extends Issued {
  /** Issues a workload certificate naming `workload`, valid for both ends of a connection. */
  issue(workload: string, options?: { validForMs?: number; notBefore?: Date }): Issued;
}

function certificate(options: {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  authorityKeyId: Buffer;
  ca: boolean;
  uri?: string;
  notBefore: Date;
  notAfter: Date;
}): string {
  const extensions: Buffer[] = [
    extension("2.5.29.19", true, options.ca ? sequence(bool(true)) : sequence()),
    // keyUsage: keyCertSign + cRLSign for the CA (1 unused bit), digitalSignature for workloads (7).
    extension("2.5.29.15", true, options.ca ? tlv(0x03, Buffer.from([1, 0x06])) : tlv(0x03, Buffer.from([7, 0x80]))),
    extension("2.5.29.14", false, octets(keyIdentifier(options.publicKey))),
    extension("2.5.29.35", false, sequence(tlv(0x80, options.authorityKeyId))),
  ];
  if (options.uri) {
    extensions.push(extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"), oid("1.3.6.1.5.5.7.3.2"))));
    // The identity (URI), and the workload's name as a DNS name, for tools that check a host name
    // (`buf curl --servername users`); only the URI is an identity.
    extensions.push(extension("2.5.29.17", true, sequence(tlv(0x86, Buffer.from(options.uri)), tlv(0x82, Buffer.from(options.subject)))));
  }
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(options.issuer),
    sequence(time(options.notBefore), time(options.notAfter)),
    name(options.subject),
    options.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, options.signingKey);
  const der = sequence(tbs, ECDSA_SHA256, bits(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;
}

const DAY = 86_400_000;

/** A new CA, valid for `validForMs` (default a year); its key lives only in this process's memory. */
export function createMeshCa(options: { validForMs?: number } = {}): MeshCa {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const notBefore = new Date(Date.now() - 60_000);
  const caId = keyIdentifier(publicKey);
  const caName = "chirp mesh CA";
  const certificatePem = certificate({
    subject: caName,
    issuer: caName,
    publicKey,
    signingKey: privateKey,
    authorityKeyId: caId,
    ca: true,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validForMs ?? 365 * DAY)),
  });
  return {
    certificatePem,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    issue(workload, issueOptions = {}) {
      if (!WORKLOAD_NAME.test(workload)) throw new Error(`"${workload}" is not a workload name`);
      const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const from = issueOptions.notBefore ?? new Date(Date.now() - 60_000);
      const pem = certificate({
        subject: workload,
        issuer: caName,
        publicKey: pair.publicKey,
        signingKey: privateKey,
        authorityKeyId: caId,
        ca: false,
        uri: `${IDENTITY_PREFIX}${workload}`,
        notBefore: from,
        notAfter: new Date(from.getTime() + (issueOptions.validForMs ?? 30 * DAY)),
      });
      return { certificatePem: pem, privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    },
  };
}

/** Where a workload's certificate, key and the CA certificate are, as the TLS_* settings name them. */
export interface MeshTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Writes a workload's certificate, key and the CA's certificate into `dir` (tls.crt, tls.key,
 * ca.crt: the layout of a cert-manager Secret), each replaced whole (written aside, then renamed),
 * so that a reader never sees half a file.
 */
export function writeWorkloadFiles(dir: string, ca: Pick<MeshCa, "certificatePem">, issued: Issued): MeshTlsFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key"), caFile: join(dir, "ca.crt") };
  const put = (path: string, text: string) => {
    const aside = `${path}.${randomBytes(4).toString("hex")}.tmp`;
    writeFileSync(aside, text, { mode: 0o600 });
    renameSync(aside, path);
  };
  put(files.caFile, ca.certificatePem);
  put(files.keyFile, issued.privateKeyPem);
  put(files.certFile, issued.certificatePem);
  return files;
}

/** Whether a PEM certificate names a workload, for checks; the parsed certificate's identity. */
export const identityOfPem = (pem: string) => workloadIdentity(new X509Certificate(pem).subjectAltName);

/**
 * A throwaway CA and the certificate files of each workload it is asked for, in a directory of its
 * own (`<dir>/<workload>/tls.crt`, `tls.key`, `ca.crt`): what `npm start`, `npm run cluster`,
 * the benchmarks and the tests make at start. `remove` deletes the directory.
 */
export class MeshCertificateSet {
  readonly ca: MeshCa;
  private readonly files = new Map<string, MeshTlsFiles>();

  constructor(readonly dir: string = mkdtempSync(join(tmpdir(), "chirp-mesh-tls-"))) {
    this.ca = createMeshCa();
  }

  /** The files of `workload`'s certificate, issued on first use. */
  filesOf(workload: string): MeshTlsFiles {
    let files = this.files.get(workload);
    if (!files) {
      files = writeWorkloadFiles(join(this.dir, workload), this.ca, this.ca.issue(workload));
      this.files.set(workload, files);
    }
    return files;
  }

  /** The TLS_* settings of `workload`, for its process's environment. */
  envOf(workload: string): Record<string, string> {
    const files = this.filesOf(workload);
    return { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, TLS_CA_FILE: files.caFile };
  }

  /** Issues `workload` a new certificate in place of its files (a rotation). */
  rotate(workload: string, options?: { validForMs?: number }): MeshTlsFiles {
    const files = writeWorkloadFiles(join(this.dir, workload), this.ca, this.ca.issue(workload, options));
    this.files.set(workload, files);
    return files;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
