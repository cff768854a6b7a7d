import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { replicaTarget } from "./replicas.js";

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
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: Record<string, string>,
) => HealthClient;

/**
 * Asks a server the standard `grpc.health.v1.Health/Check` question; UNREACHABLE when it does not
 * answer in time. An address naming several replicas is answered by one that is up.
 */
export function checkHealth(address: string, service = "", timeoutMs = 1_000): Promise<ServingStatus> {
  const client = new HealthClient(replicaTarget(address), credentials.createInsecure(), { "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) });
  return new Promise<ServingStatus>((resolve) =>
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) =>
      resolve(error ? "UNREACHABLE" : (response?.status ?? "UNKNOWN")),
    ),
  ).finally(() => client.close());
}
