import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { assertPortFree } from "./ports.js";
import { findBinary } from "./paths.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";

export interface JaegerOptions {
  host: string;
  /** OTLP/HTTP receiver: the services send spans to http://host:otlpPort/v1/traces. */
  otlpPort: number;
  /** Query HTTP API (/api/traces, /api/services). */
  queryPort: number;
  /** Query gRPC API (unused here, but it listens: on loopback, not on Jaeger's default 16685). */
  queryGrpcPort: number;
  dir?: string;
  /** Traces kept in memory, oldest dropped first. */
  maxTraces?: number;
}

export interface RunningJaeger extends RunningServer {
  /** OTLP base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpUrl: string;
}

/**
 * The collector config: OTLP/HTTP in, in-memory storage, the query API; only those (Jaeger's all-in-one default
 * also opens gRPC, Zipkin, Jaeger-Thrift, sampling, health, expvar and zpages ports, and a metrics port on 8888).
 */
export function jaegerConfig(opts: JaegerOptions): Record<string, unknown> {
  const at = (port: number) => `${opts.host}:${port}`;
  return {
    service: {
      extensions: ["jaeger_storage", "jaeger_query"],
      pipelines: {
        traces: { receivers: ["otlp"], processors: ["batch"], exporters: ["jaeger_storage_exporter"] },
      },
      telemetry: { metrics: { level: "none" }, logs: { level: "warn" } },
    },
    extensions: {
      jaeger_query: {
        storage: { traces: "memory" },
        http: { endpoint: at(opts.queryPort) },
        grpc: { endpoint: at(opts.queryGrpcPort) },
      },
      jaeger_storage: { backends: { memory: { memory: { max_traces: opts.maxTraces ?? 50_000 } } } },
    },
    receivers: { otlp: { protocols: { http: { endpoint: at(opts.otlpPort) } } } },
    processors: { batch: { timeout: "200ms" } },
    exporters: { jaeger_storage_exporter: { trace_storage: "memory" } },
  };
}

/** Starts Jaeger v2 (npm run setup builds it) with traces in memory; resolves once its query API answers. */
export async function startJaeger(opts: JaegerOptions): Promise<RunningJaeger> {
  const { host } = opts;
  for (const [what, port] of [
    ["jaeger otlp", opts.otlpPort],
    ["jaeger query", opts.queryPort],
    ["jaeger query grpc", opts.queryGrpcPort],
  ] as const)
    await assertPortFree(what, host, port);
  const { dir, owned } = prepareDir("jaeger", opts.dir);
  writeFileSync(join(dir, "jaeger.yaml"), stringify(jaegerConfig(opts)));
  const proc = spawnTracked({
    tool: "jaeger",
    command: findBinary("jaeger"),
    args: [`--config=file:${join(dir, "jaeger.yaml")}`],
    dir,
  });
  const url = `http://${host}:${opts.queryPort}`;
  const otlpUrl = `http://${host}:${opts.otlpPort}`;
  await waitUntilReady(
    proc,
    async () =>
      (await fetch(`${url}/api/services`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok ===
        true &&
      // The receiver answers a POST without spans with 400 or 415 once it listens.
      (await fetch(`${otlpUrl}/v1/traces`, { method: "POST", signal: AbortSignal.timeout(1000) }).catch(
        () => null,
      )) !== null,
    30_000,
  );
  return { ...runningServer(proc, { host, port: opts.queryPort, url, dir, ownsDir: owned }), otlpUrl };
}
