import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { descriptorSet } from "@chirp/proto/descriptor-set";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../logger.js";

export interface ServiceRegistration {
  definition: ServiceDefinition | Record<string, { path: string }>;
  implementation: UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  services: ServiceRegistration[];
  log: Logger;
  /** How long in-flight calls may take to finish on shutdown before they are cut. */
  drainMs?: number;
}

/** The fully-qualified service name, from any method path ("/pkg.Service/Method"). */
export function serviceName(definition: ServiceRegistration["definition"]): string {
  const path = Object.values(definition)[0]?.path;
  if (!path) throw new Error("service definition has no methods");
  return path.split("/")[1]!;
}

/**
 * A grpc-js server with the standard health service (`grpc.health.v1.Health`) and server
 * reflection. Health starts NOT_SERVING and turns SERVING only when the composition root says its
 * dependencies are connected; it turns NOT_SERVING again first thing on shutdown.
 */
export class GrpcServer {
  private constructor(
    private readonly server: Server,
    private readonly health: HealthImplementation,
    private readonly names: string[],
    readonly port: number,
    private readonly log: Logger,
    private readonly drainMs: number,
  ) {}

  static async start(options: GrpcServerOptions): Promise<GrpcServer> {
    const server = new Server();
    const names = options.services.map((s) => serviceName(s.definition));
    const health = new HealthImplementation(Object.fromEntries(["", ...names].map((name) => [name, "NOT_SERVING"])));
    health.addToServer(server);
    new ReflectionService(loadFileDescriptorSetFromBuffer(descriptorSet), { services: names }).addToServer(server);
    for (const service of options.services) {
      server.addService(service.definition as ServiceDefinition, service.implementation);
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    options.log.info({ port, services: names }, "gRPC server listening");
    return new GrpcServer(server, health, names, port, options.log, options.drainMs ?? 10_000);
  }

  setServing(serving: boolean): void {
    for (const name of ["", ...this.names]) this.health.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  }

  /** Stops taking calls, lets in-flight ones finish within the drain time, then cuts the rest. */
  async shutdown(): Promise<void> {
    this.setServing(false);
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
  }
}
