import {
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";

/**
 * Trace context across the outbox (W3C traceparent/tracestate as a plain object). Only the OpenTelemetry API: with
 * tracing off (no SDK started) every function here is a no-op.
 */
export type TraceCarrier = Record<string, string>;

const tracer = trace.getTracer("@blueprint/service-kit");

/** The active trace's context, to store with an outbox event; undefined outside a sampled trace or with tracing off. */
export function captureTrace(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/**
 * A PRODUCER span for one outbox event, continuing the trace the event was recorded in (not the relay's poll), and
 * the Kafka headers that carry it to the consumer. An event recorded outside a trace gets neither: its consumer
 * starts a trace of its own.
 */
export function publishSpan(
  topic: string,
  eventId: string,
  stored: TraceCarrier | undefined,
): { span?: Span; headers: TraceCarrier } {
  if (!stored) return { headers: {} };
  const parent = propagation.extract(ROOT_CONTEXT, stored);
  const span = tracer.startSpan(
    `publish ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "send",
        "messaging.message.id": eventId,
      },
    },
    parent,
  );
  const headers: TraceCarrier = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return { span, headers };
}

/** Ends publish spans, marking them failed with `err`. */
export function endSpans(spans: Span[], err?: unknown): void {
  for (const span of spans) {
    if (err !== undefined) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
    }
    span.end();
  }
}

/**
 * Runs `fn` with tracing suppressed: no span is started and no context injected below it. The relay sends under it,
 * so the Kafka instrumentation keeps the headers `publishSpan` wrote instead of the poll's (empty) context.
 */
export const untraced = <T>(fn: () => T): T => context.with(suppressTracing(context.active()), fn);

/** The active span's trace id (for logs); undefined outside a trace. */
export function activeTraceId(): string | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? ctx.traceId : undefined;
}
