import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { PackageDefinition } from "@grpc/proto-loader";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { descriptorSet } from "@chirp/proto/descriptor-set";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../logger.js";
import { UnreadableRequest } from "./bind.js";
import { meshCertificates, serverCredentials, type MeshTls } from "./tls.js";

type Definition = ServiceDefinition | Record<string, { path: string }>;

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The services this server will offer; each answers UNAVAILABLE until `activate` installs its handlers. */
  services: Definition[];
  log: Logger;
  /** How long in-flight calls may take to finish on shutdown before they are cut. */
  drainMs?: number;
  /** How often each connection is PINGed; one unanswered for as long is closed. Default 30 s. */
  keepaliveMs?: number;
  /**
   * Mutual TLS with the mesh's certificates: every caller must present a certificate of the mesh
   * CA. Absent: plaintext (development only). With `identity`, the certificate must name it.
   */
  tls?: MeshTls;
  identity?: string;
  /** A plaintext port serving the health service only (0 or absent: none), for probes without a certificate. */
  healthPort?: number;
}

/**
 * The largest request message a service reads: far above any request of the mesh (the gateway
 * takes bodies of 64 KiB by default), far below grpc-js's 4 MiB, so a direct caller cannot make a
 * service receive and decode megabytes before validation refuses them.
 */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** The fully-qualified service name, from any method path ("/pkg.Service/Method"). */
export function serviceName(definition: Definition): string {
  const path = Object.values(definition)[0]?.path;
  if (!path) throw new Error("service definition has no methods");
  return path.split("/")[1]!;
}

/**
 * The schema reflection serves: every file of proto/ with its imports, taken byte for byte from
 * the generated descriptor set. (@grpc/proto-loader's re-encoded descriptors lose what clients
 * such as `buf curl` need, so neither they nor the health service's schema are offered.)
 */
function reflectionSchema(): PackageDefinition {
  const files: Buffer[] = [];
  const reader = new BinaryReader(descriptorSet);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  return { schema: { fileDescriptorProtos: files } } as unknown as PackageDefinition;
}

/**
 * The definition with decoders that never throw: a request that is not a valid message becomes an
 * UnreadableRequest, which the bound handler refuses as INVALID_ARGUMENT (see bindService).
 */
function withTotalDecoders(definition: Definition): Definition {
  const methods = Object.entries(definition).map(([name, method]) => {
    const decode = (method as { requestDeserialize?: (bytes: Buffer) => unknown }).requestDeserialize;
    if (typeof decode !== "function") return [name, method];
    const requestDeserialize = (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch (error) {
        return new UnreadableRequest(method.path, error);
      }
    };
    return [name, { ...method, requestDeserialize }];
  });
  return Object.fromEntries(methods) as Definition;
}

const starting = { code: status.UNAVAILABLE, details: "the service is starting; retry shortly", metadata: new Metadata() };

/**
 * A grpc-js server with the standard health service (`grpc.health.v1.Health`) and server
 * reflection. It listens at once, so probes get an answer while dependencies connect: health says
 * NOT_SERVING and the services answer UNAVAILABLE until the composition root activates them.
 * On shutdown health turns NOT_SERVING first, then in-flight calls drain.
 */
export class GrpcServer {
  private readonly active = new Map<string, UntypedServiceImplementation>();
  private readonly registered = new Set<string>();

  private constructor(
    private readonly server: Server,
    private readonly health: HealthImplementation,
    readonly port: number,
    private readonly log: Logger,
    private readonly drainMs: number,
    /** Whether callers are authenticated by mutual TLS (so each call has a peer identity). */
    readonly tls: boolean,
    private readonly healthOnly: { server: Server; port: number } | undefined,
  ) {}

  /** Where the plaintext health-only server listens, if there is one. */
  get healthPort(): number | undefined {
    return this.healthOnly?.port;
  }

  static async start(options: GrpcServerOptions): Promise<GrpcServer> {
    // Keep-alive PINGs find callers that vanished without closing (a gateway on a failed node):
    // their calls are cancelled, so live streams end instead of waiting for TCP to give up.
    const keepaliveMs = options.keepaliveMs ?? 30_000;
    const server = new Server({
      "grpc.keepalive_time_ms": keepaliveMs,
      "grpc.keepalive_timeout_ms": keepaliveMs,
      "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    });
    const names = options.services.map(serviceName);
    const health = new HealthImplementation(Object.fromEntries(["", ...names].map((name) => [name, "NOT_SERVING"])));
    health.addToServer(server);
    new ReflectionService(reflectionSchema(), { services: names }).addToServer(server);
    if (options.tls && options.identity !== undefined) {
      const named = meshCertificates(options.tls, options.log).identity;
      if (named !== options.identity) throw new Error(`${options.tls.certFile} names the workload "${named}", not "${options.identity}"`);
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host}:${options.port}`, serverCredentials(options.tls, options.log), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    let healthOnly: { server: Server; port: number } | undefined;
    if (options.healthPort) {
      // The same health answers, and nothing else: no service, no reflection.
      const probes = new Server();
      health.addToServer(probes);
      const bound = await new Promise<number>((resolve, reject) =>
        probes.bindAsync(`${options.host}:${options.healthPort}`, ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
      ).catch((error: unknown) => {
        server.forceShutdown();
        throw error;
      });
      healthOnly = { server: probes, port: bound };
    }
    const grpcServer = new GrpcServer(server, health, port, options.log, options.drainMs ?? 10_000, options.tls !== undefined, healthOnly);
    for (const definition of options.services) grpcServer.register(definition);
    options.log.info({ port, services: names, tls: options.tls !== undefined, ...(healthOnly && { healthPort: healthOnly.port }) }, "gRPC server listening");
    return grpcServer;
  }

  /** Routes each method through the active implementation, or UNAVAILABLE while there is none. */
  private register(definition: Definition): void {
    const name = serviceName(definition);
    const routed: UntypedServiceImplementation = {};
    for (const method of Object.keys(definition)) {
      routed[method] = ((call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>, callback?: sendUnaryData<unknown>) => {
        const handler = this.active.get(name)?.[method] as ((...args: unknown[]) => void) | undefined;
        if (handler) return handler(call, callback);
        if (callback) return callback(starting, null);
        (call as ServerWritableStream<unknown, unknown>).emit("error", starting);
      }) as UntypedServiceImplementation[string];
    }
    this.server.addService(withTotalDecoders(definition) as ServiceDefinition, routed);
    this.registered.add(name);
  }

  /** Installs a service's handlers and reports it SERVING; the server as a whole serves once every service does. */
  activate(definition: Definition, implementation: UntypedServiceImplementation): void {
    const name = serviceName(definition);
    this.active.set(name, implementation);
    this.health.setStatus(name, "SERVING");
    if ([...this.registered].every((n) => this.active.has(n))) this.health.setStatus("", "SERVING");
  }

  /** Stops taking calls, lets in-flight ones finish within the drain time, then cuts the rest. */
  async shutdown(): Promise<void> {
    this.health.setStatus("", "NOT_SERVING");
    for (const name of this.active.keys()) this.health.setStatus(name, "NOT_SERVING");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ drainMs: this.drainMs }, "calls still running after drain time; cancelling them");
        this.server.forceShutdown();
        resolve();
      }, this.drainMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Probes see NOT_SERVING through the drain; the health-only port closes with the rest.
    this.healthOnly?.server.forceShutdown();
  }
}
