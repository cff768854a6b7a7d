import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { connect as tlsConnect, createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from "node:tls";
import { credentials, experimental, ServerCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { workloadIdentity, type MeshTlsFiles } from "./mesh-ca.js";

/**
 * Mutual TLS between the mesh's processes: every server asks for a client certificate issued by
 * the mesh CA, and every client checks that the server's certificate names the service it meant
 * to call. The identity of a peer is the workload its certificate names (`spiffe://chirp/<name>`,
 * see mesh-ca.ts); the peer rules of each service (peers.ts) say which identities may call what.
 */

/** How a process takes part in the mesh: its certificate files, or none (plaintext, development only). */
export type MeshTls = MeshTlsFiles & {
  /** How often the files are looked at for a new certificate. */
  reloadMs?: number;
};

/** What a certificate set holds once read and checked. */
interface Loaded {
  ca: Buffer;
  certificate: Buffer;
  privateKey: Buffer;
  identity: string;
  notAfter: string;
}

/** Reads the three files and checks they belong together; throws, saying what is wrong, when not. */
function load(files: MeshTlsFiles): Loaded {
  const ca = readFileSync(files.caFile);
  const certificate = readFileSync(files.certFile);
  const privateKey = readFileSync(files.keyFile);
  const cert = new X509Certificate(certificate);
  const caCert = new X509Certificate(ca);
  if (!cert.checkPrivateKey(createPrivateKey(privateKey))) throw new Error(`${files.keyFile} is not the key of ${files.certFile}`);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) throw new Error(`${files.certFile} was not issued by the CA in ${files.caFile}`);
  const identity = workloadIdentity(cert.subjectAltName);
  if (!identity) throw new Error(`${files.certFile} names no workload (a URI SAN spiffe://chirp/<name>)`);
  return { ca, certificate, privateKey, identity, notAfter: cert.validTo };
}

/**
 * The CA and the workload certificate from their files, looked at every `reloadMs` (a stat each:
 * a Kubernetes Secret's update swaps a symlink, which the stat follows) and given to every server
 * and client of the process that uses them. A new set is taken only once all three files read and
 * belong together: a rotation caught half-written keeps the set in use until the next look, so
 * connections never see a certificate without its key. Established connections keep the
 * certificate they were made with; new ones use the newest.
 */
export class WatchedCertificates implements experimental.CertificateProvider {
  private current: Loaded;
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  private watching = false;
  private readonly reloadMs: number;
  /** The Node TLS context of the set in use, for clients outside grpc-js; made again after a reload. */
  private context: SecureContext | undefined;

  constructor(
    private readonly files: MeshTls,
    private readonly log?: Logger,
  ) {
    this.current = load(files);
    this.reloadMs = files.reloadMs ?? 1_000;
  }

  /** The workload the certificate in use names. */
  get identity(): string {
    return this.current.identity;
  }

  /** Reads the files again now; true when a new certificate set was taken. */
  reload(): boolean {
    let next: Loaded;
    try {
      next = load(this.files);
    } catch (error) {
      this.log?.warn({ err: error, certFile: this.files.certFile }, "mesh certificate files not usable; keeping the certificate in use");
      return false;
    }
    if (next.certificate.equals(this.current.certificate) && next.ca.equals(this.current.ca) && next.privateKey.equals(this.current.privateKey)) return false;
    if (next.identity !== this.current.identity) {
      // A process's identity is what it was started as: a certificate naming another is a mistake.
      this.log?.error({ certFile: this.files.certFile, was: this.current.identity, now: next.identity }, "new mesh certificate names another workload; not taken");
      return false;
    }
    this.current = next;
    this.context = undefined;
    this.log?.info({ identity: next.identity, notAfter: next.notAfter }, "mesh certificate reloaded; new connections use it");
    for (const listener of this.caListeners) listener({ caCertificate: next.ca });
    for (const listener of this.identityListeners) listener({ certificate: next.certificate, privateKey: next.privateKey });
    return true;
  }

  private readonly onChange = () => void this.reload();

  private watch(): void {
    const listening = this.caListeners.size + this.identityListeners.size > 0;
    if (listening && !this.watching) {
      for (const file of [this.files.certFile, this.files.keyFile, this.files.caFile]) watchFile(file, { interval: this.reloadMs, persistent: false }, this.onChange);
      this.watching = true;
    } else if (!listening && this.watching) {
      for (const file of [this.files.certFile, this.files.keyFile, this.files.caFile]) unwatchFile(file, this.onChange);
      this.watching = false;
    }
  }

  // The first update is given after the listener's registration returns, as grpc-js expects (its
  // server credentials register their own watcher only then, and would miss an update given now).
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener({ caCertificate: this.current.ca }));
    this.watch();
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
    this.watch();
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener({ certificate: this.current.certificate, privateKey: this.current.privateKey }));
    this.watch();
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
    this.watch();
  }

  private readonly keepWatching = () => undefined;

  /**
   * The Node TLS context of the certificate set in use, for clients that are not grpc-js (the
   * gateway's Connect transports): each new connection asks again, so it gets the newest set.
   */
  secureContext(): SecureContext {
    if (!this.identityListeners.has(this.keepWatching)) this.addIdentityCertificateListener(this.keepWatching);
    this.context ??= createSecureContext({ ca: this.current.ca, cert: this.current.certificate, key: this.current.privateKey });
    return this.context;
  }

  /** Stops looking at the files (every listener's removal does too). */
  close(): void {
    this.caListeners.clear();
    this.identityListeners.clear();
    this.watch();
  }
}

/** One watcher per set of files in a process: the embedded mesh runs many workloads, each its own set. */
const providers = new Map<string, WatchedCertificates>();

/** The process's watcher of these files, made on first use. */
export function meshCertificates(tls: MeshTls, log?: Logger): WatchedCertificates {
  const key = `${tls.certFile}\0${tls.keyFile}\0${tls.caFile}`;
  let provider = providers.get(key);
  if (!provider) {
    provider = new WatchedCertificates(tls, log);
    providers.set(key, provider);
  }
  return provider;
}

/** The identity a peer's certificate names, or undefined without one. */
export const peerIdentity = (certificate: PeerCertificate | undefined): string | undefined => workloadIdentity(certificate?.subjectaltname);

/**
 * A server's credentials: TLS asking for (and requiring) a client certificate of the mesh CA, or
 * plaintext without `tls` (development only; the configuration refuses it in production).
 */
export function serverCredentials(tls: MeshTls | undefined, log?: Logger): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const provider = meshCertificates(tls, log);
  return experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/**
 * Checks the server's certificate names `expected` (a service's name): the workload identity
 * replaces the host name check, since replicas are reached by address.
 */
export function expectWorkload(expected: string | undefined) {
  return (host: string, certificate: PeerCertificate): Error | undefined => {
    const identity = peerIdentity(certificate);
    if (!identity) return new Error(`the server at ${host} presented a certificate naming no mesh workload`);
    if (expected !== undefined && identity !== expected) return new Error(`the server at ${host} is "${identity}", not "${expected}"`);
    return undefined;
  };
}

/**
 * The channel options of a client of the service `server` over mutual TLS: the server name sent
 * (SNI) is the workload's, not the replica's IP address (which TLS does not allow as a name).
 */
export const meshChannelOptions = (server: string) => ({ "grpc.ssl_target_name_override": server });

/**
 * A client's credentials for calls to the service `server`: the process's workload certificate and
 * the mesh CA, checking the server is that service; plaintext without `tls` (development only).
 */
export function channelCredentials(tls: MeshTls | undefined, server: string, log?: Logger): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  const provider = meshCertificates(tls, log);
  return experimental.createCertificateProviderChannelCredentials(provider, provider, { checkServerIdentity: expectWorkload(server) });
}

/**
 * For Node's HTTP/2 client (`createConnection` of http2.connect, as connect-node's transports take
 * it): a TLS connection to the authority with the process's newest mesh certificate, checking the
 * server is the workload `server`.
 */
export function meshTlsConnection(tls: MeshTls, server: string, log?: Logger): (authority: URL) => TLSSocket {
  const provider = meshCertificates(tls, log);
  return (authority) => {
    const host = authority.hostname.replace(/^\[(.*)\]$/, "$1");
    return tlsConnect({
      host,
      port: Number(authority.port),
      secureContext: provider.secureContext(),
      ALPNProtocols: ["h2"],
      ...(isIP(host) ? {} : { servername: host }),
      checkServerIdentity: expectWorkload(server),
    });
  };
}
