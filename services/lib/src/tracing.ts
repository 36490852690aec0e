import { register } from "node:module";
import { type Attributes, type Context, type Link, SpanKind } from "@opentelemetry/api";
import { ExpressInstrumentation, ExpressLayerType } from "@opentelemetry/instrumentation-express";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { KafkaJsInstrumentation } from "@opentelemetry/instrumentation-kafkajs";
import { MongoDBInstrumentation } from "@opentelemetry/instrumentation-mongodb";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { NodeSDK, resources, tracing } from "@opentelemetry/sdk-node";
import { z } from "zod";
import type { RunningService } from "./app.js";
import { commonConfig, ConfigError, key, loadConfig, type ConfigOf } from "./config.js";
import { runMain } from "./run-main.js";

/**
 * Distributed tracing (OpenTelemetry for Node), off unless OTEL_EXPORTER_OTLP_ENDPOINT names a collector. This module
 * loads no application library: `main.ts` starts it before importing the service, so the ESM hook
 * (import-in-the-middle) and the instrumentations see express, node:http, undici, ioredis, mongodb and kafkajs load.
 *
 *   // main.ts
 *   import { serviceMain } from "@blueprint/service-kit/tracing";
 *   await serviceMain("orders", async () => ({ loadConfig: (await import("./config.js")).loadOrdersConfig, start: ... }));
 */
export const tracingConfig = () => ({
  otlpEndpoint: key(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    z.string().refine((v) => v === "" || /^https?:\/\/[^\s/]+(\/\S*)?$/.test(v), "must be an http(s) URL"),
    {
      doc: "the OTLP/HTTP base URL of a trace collector (spans go to <url>/v1/traces); empty: tracing is off",
      default: "",
      example: "http://otel-collector.monitoring:4318",
    },
  ),
  traceSampleRatio: key("TRACE_SAMPLE_RATIO", z.coerce.number().min(0).max(1), {
    doc: "the share (0-1) of incoming requests and messages that start a trace; a traced caller's decision is kept",
    default: "1",
  }),
});

export type TracingConfig = ConfigOf<ReturnType<typeof tracingConfig>>;

/** The kit's own probes and scrape: not worth a trace each. */
const UNTRACED_PATHS = new Set(["/livez", "/readyz", "/metrics"]);

/**
 * Traces start only where work enters the service: an incoming request or a consumed message (ParentBased keeps a
 * traced caller's decision for everything below it). The background loops' own reads (relay polls, claim sweeps,
 * the reconciler, the settler) start none, so the trace store holds requests, not poll rounds.
 */
export class EntryPointSampler implements tracing.Sampler {
  private readonly ratio: tracing.Sampler;

  constructor(ratio: number) {
    this.ratio = new tracing.TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): tracing.SamplingResult {
    if (kind !== SpanKind.SERVER && kind !== SpanKind.CONSUMER)
      return { decision: tracing.SamplingDecision.NOT_RECORD };
    return this.ratio.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `EntryPointSampler{${this.ratio.toString()}}`;
  }
}

let sdk: NodeSDK | undefined;

/**
 * Starts tracing for `service` when OTEL_EXPORTER_OTLP_ENDPOINT is set (a bad value prints which key and how to fix
 * it, and exits 1, like every other key). Spans carry the service, version, region and color; each incoming request
 * records its x-request-id, so the edge's id finds the trace.
 */
export async function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const { region, color, serviceVersion } = commonConfig(0);
  let config: TracingConfig & { region: string; color: string; serviceVersion: string };
  try {
    config = loadConfig({ ...tracingConfig(), region, color, serviceVersion }, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  if (config.otlpEndpoint === "") return false;
  // ESM: the instrumentations patch modules through this loader hook, which must be registered before they load.
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({
      "service.name": service,
      "service.version": config.serviceVersion,
      "cloud.region": config.region,
      "deployment.color": config.color,
    }),
    sampler: new tracing.ParentBasedSampler({ root: new EntryPointSampler(config.traceSampleRatio) }),
    spanProcessors: [
      new tracing.BatchSpanProcessor(
        new OTLPTraceExporter({ url: `${config.otlpEndpoint.replace(/\/+$/, "")}/v1/traces` }),
        { scheduledDelayMillis: 1000 },
      ),
    ],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? "").split("?")[0]!),
        headersToSpanAttributes: { server: { requestHeaders: ["x-request-id"] } },
      }),
      // Route handlers only: a span per middleware layer is noise.
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
      }),
      // The gateway's upstream calls (undici's diagnostics channels): a client span, and the context in traceparent.
      new UndiciInstrumentation(),
      new IORedisInstrumentation(),
      new MongoDBInstrumentation(),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  return true;
}

/** Flushes the spans still buffered and stops tracing; runMain calls it once the service has drained. */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}

/**
 * The body of every `main.ts`: tracing first (when configured), then the service's own modules (loaded through the
 * instrumentations), then runMain, which flushes the last spans after the drain.
 */
export async function serviceMain<C>(
  service: string,
  load: () => Promise<{ loadConfig: () => C; start: (config: C) => Promise<RunningService> }>,
): Promise<void> {
  await startTracing(service);
  const { loadConfig, start } = await load();
  await runMain(loadConfig, start, { afterStop: stopTracing });
}
