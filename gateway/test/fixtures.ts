import { GATEWAY_SERVICES, verifierFor } from "@chirp/kit";
import type { CallGuard, PeerRules } from "@chirp/kit/grpc";
import type { GatewayConfig } from "../src/config.js";

const UNREACHABLE = "127.0.0.1:1";

/** A gateway on ephemeral ports; upstreams not given point at a closed port. */
export function gatewayConfig(overrides: Partial<Omit<GatewayConfig, "upstreams">> & { upstreams?: Partial<GatewayConfig["upstreams"]> } = {}): GatewayConfig {
  const { upstreams, ...rest } = overrides;
  return {
    serviceName: "gateway",
    host: "127.0.0.1",
    http2Port: 0,
    httpPort: 0,
    logLevel: "silent",
    natsNkeySeed: undefined,
    streamReplicas: 1,
    // Plaintext to the stand-in upstreams of these tests; test/mesh-tls.test.ts covers mutual TLS.
    tls: undefined,
    upstreams: { ...(Object.fromEntries(GATEWAY_SERVICES.map(({ name }) => [name, UNREACHABLE])) as GatewayConfig["upstreams"]), ...upstreams },
    auth: { publicKeysPem: [], issuer: "chirp", audience: "chirp" },
    corsOrigins: ["https://app.chirp.test"],
    maxBodyBytes: 64 * 1024,
    compressMinBytes: 1024,
    writesPerMinute: 120,
    writeBurst: 30,
    readsPerMinute: 600,
    readBurst: 120,
    trustedProxies: [],
    defaultTimeoutMs: 5_000,
    streamMaxLifetimeMs: 60_000,
    keepaliveMs: 15_000,
    maxStreamsPerCaller: 5,
    shutdownDeadlineMs: 5_000,
    telemetry: { otlpEndpoint: undefined, samplePercent: 100, metricsPort: 0 },
    webRoot: undefined,
    natsUrl: undefined,
    ...rest,
  };
}

/**
 * How a stand-in upstream of these tests treats calls: it verifies the access tokens the gateway
 * forwards (with `publicKeyPem`), as every service does, over plaintext (mesh-tls.test.ts has the
 * mutual TLS).
 */
export function upstreamGuard<D extends object>(definition: D, publicKeyPem: string): CallGuard<D> {
  const peers = Object.fromEntries(Object.keys(definition).map((name) => [name, ["gateway"]])) as unknown as PeerRules<D>;
  return { peers, tokens: verifierFor(publicKeyPem), tls: false };
}
