import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { node, tracing } from "@opentelemetry/sdk-node";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";
import { outboxEvent } from "./events.js";
import { activeTraceId, captureTrace, endSpans, publishSpan, untraced } from "./trace-context.js";
import { EntryPointSampler, tracingConfig } from "./tracing.js";

// A real tracer provider (the SDK's, W3C propagation, AsyncLocalStorage context) recording in memory.
const exporter = new tracing.InMemorySpanExporter();
const provider = new node.NodeTracerProvider({
  sampler: new tracing.ParentBasedSampler({ root: new EntryPointSampler(1) }),
  spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
});
provider.register();
afterAll(() => provider.shutdown());
const tracer = trace.getTracer("test");
const traceIdOf = (traceparent: string | undefined) => traceparent?.split("-")[1];

describe("tracing config", () => {
  it("when the endpoint is not an http(s) URL, then the error names the key and its fix", () => {
    expect(() => loadConfig(tracingConfig(), { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig(tracingConfig(), { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: value "collector:4318" is invalid \(must be an http\(s\) URL\)/,
    );
    expect(() => loadConfig(tracingConfig(), { TRACE_SAMPLE_RATIO: "2" })).toThrow(/TRACE_SAMPLE_RATIO/);
    expect(loadConfig(tracingConfig(), {})).toEqual({ otlpEndpoint: "", traceSampleRatio: 1 });
  });
});

describe("the entry-point sampler", () => {
  const decide = (kind: SpanKind, ratio = 1) =>
    new EntryPointSampler(ratio).shouldSample(ROOT_CONTEXT, "a".repeat(32), "x", kind, {}, []).decision;

  it("when a request or a message arrives, then it starts a trace; a background read does not", () => {
    expect(decide(SpanKind.SERVER)).toBe(tracing.SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(SpanKind.CONSUMER)).toBe(tracing.SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(SpanKind.CLIENT)).toBe(tracing.SamplingDecision.NOT_RECORD);
    expect(decide(SpanKind.PRODUCER)).toBe(tracing.SamplingDecision.NOT_RECORD);
    expect(decide(SpanKind.SERVER, 0)).toBe(tracing.SamplingDecision.NOT_RECORD);
  });
});

describe("trace context through the outbox", () => {
  it("when an event is recorded in a request's trace, then its publish continues that trace and the headers carry the publish span", () => {
    exporter.reset();
    const request = tracer.startSpan("POST /orders", { kind: SpanKind.SERVER });
    const event = context.with(trace.setSpan(context.active(), request), () =>
      outboxEvent("orders.events", "OrderCreated", "o-1", {}),
    );
    request.end();
    const requestTrace = request.spanContext().traceId;
    expect(traceIdOf(event.trace?.traceparent)).toBe(requestTrace);
    // Later, in the relay's poll (no active span): the publish span's parent is the stored request span.
    const { span, headers } = publishSpan(event.topic, event.value.eventId, event.trace);
    endSpans([span!], new Error("broker down"));
    expect(traceIdOf(headers.traceparent)).toBe(requestTrace);
    expect(headers.traceparent?.split("-")[2]).toBe(span!.spanContext().spanId);
    const publish = exporter.getFinishedSpans().find((s) => s.name === "publish orders.events")!;
    expect(publish.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.status.message).toBe("broker down");
  });

  it("when no trace is active, then nothing is stored and the publish starts none", () => {
    expect(captureTrace()).toBeUndefined();
    expect(outboxEvent("orders.events", "OrderCreated", "o-2", {}).trace).toBeUndefined();
    expect(publishSpan("orders.events", "e-2", undefined)).toEqual({ headers: {} });
    expect(activeTraceId()).toBeUndefined();
  });

  it("when sending untraced, then an instrumentation below cannot overwrite the headers", () => {
    const request = tracer.startSpan("GET /", { kind: SpanKind.SERVER });
    context.with(trace.setSpan(context.active(), request), () => {
      expect(activeTraceId()).toBe(request.spanContext().traceId);
      const headers: Record<string, string> = {};
      untraced(() => propagation.inject(context.active(), headers));
      expect(headers).toEqual({});
    });
    request.end();
  });
});
