import { makeGenericClientConstructor, type ChannelCredentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { replicaTarget } from "./replicas.js";
import { channelCredentials, meshChannelOptions, type MeshTls } from "./tls.js";

export type ServingStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN" | "UNREACHABLE";

type HealthClient = Client & {
  Check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: ServingStatus }) => void,
  ): void;
};
const HealthClient = makeGenericClientConstructor(healthService, "Health") as unknown as new (
  address: string,
  creds: ChannelCredentials,
  options?: Record<string, string | number>,
) => HealthClient;

/**
 * Asks a server the standard `grpc.health.v1.Health/Check` question; UNREACHABLE when it does not
 * answer in time. An address naming several replicas is answered by one that is up. With `tls`,
 * over mutual TLS, as `workload` (the server's name, which its certificate must carry).
 */
export function checkHealth(address: string, service = "", timeoutMs = 1_000, tls?: { tls: MeshTls | undefined; workload: string }): Promise<ServingStatus> {
  const client = new HealthClient(replicaTarget(address), channelCredentials(tls?.tls, tls?.workload ?? ""), {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    ...(tls?.tls && meshChannelOptions(tls.workload)),
  });
  return new Promise<ServingStatus>((resolve) =>
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) =>
      resolve(error ? "UNREACHABLE" : (response?.status ?? "UNKNOWN")),
    ),
  ).finally(() => client.close());
}
