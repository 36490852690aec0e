import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort, startJaeger, type RunningJaeger } from "../../../scripts/lib/servers/index.js";
import {
  prepareDir,
  spawnTracked,
  waitUntilReady,
  type ManagedProcess,
} from "../../../scripts/lib/servers/process.js";
import { useRedis } from "../../../test/harness.js";
import { eventually } from "../../lib/test/env.js";
import { gatewayEnv, type ErrorBody } from "./gateway-env.js";
import { slow, startStubUpstream, type StubUpstream } from "./stub-upstream.js";

// The compiled gateway (npm test builds it first) as its own process with tracing on, as in the local environment
// and on clusters, sending spans to a real Jaeger: the undici instrumentation sees every upstream call's error,
// including the deadline's abort, and anything it throws would take the process down.
const redis = useRedis();
const timeoutMs = 300;
let jaeger: RunningJaeger;
let orders: StubUpstream;
let gateway: ManagedProcess;
let gatewayUrl: string;

beforeAll(async () => {
  const host = "127.0.0.1";
  jaeger = await startJaeger({
    host,
    otlpPort: await freePort(host),
    queryPort: await freePort(host),
    queryGrpcPort: await freePort(host),
  });
  orders = await startStubUpstream(slow(10_000));
  const port = await freePort(host);
  gatewayUrl = `http://${host}:${port}`;
  const { dir } = prepareDir("traced-gateway");
  gateway = spawnTracked({
    tool: "gateway",
    command: process.execPath,
    args: [join(import.meta.dirname, "../dist/main.js")],
    dir,
    env: {
      ...gatewayEnv(
        redis().url,
        { catalog: orders.url, orders: orders.url },
        { UPSTREAM_TIMEOUT_MS: String(timeoutMs), UPSTREAM_MAX_RETRIES: "0", LOG_LEVEL: "warn" },
      ),
      PORT: String(port),
      // The test runner's own COLOR (its output colours) must not reach the service's COLOR key.
      COLOR: "blue",
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
    },
  });
  await waitUntilReady(gateway, async () => (await fetch(`${gatewayUrl}/livez`)).ok, 20_000);
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([jaeger?.stop(), orders?.stop()]);
});

interface JaegerSpan {
  operationName: string;
  tags: { key: string; value: unknown }[];
}

describe("deadlines with tracing on", () => {
  test("when calls to an upstream that never answers reach their deadline, then each gets 504, the process lives on and the client spans record the error", async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await fetch(`${gatewayUrl}/api/orders/orders/o-${i}`);
      expect(answer.status).toBe(504);
      expect(((await answer.json()) as ErrorBody).error.code).toBe("UPSTREAM_TIMEOUT");
    }
    expect((await fetch(`${gatewayUrl}/livez`)).status).toBe(200);
    expect(gateway.hasExited()).toBe(false);
    // The instrumentation really saw the aborted calls: three upstream client spans, each in error for the deadline.
    let spans: JaegerSpan[] = [];
    const seen = async () => {
      const answer = await fetch(`${jaeger.url}/api/traces?service=gateway`);
      const traces = ((await answer.json()) as { data?: { spans: JaegerSpan[] }[] }).data ?? [];
      spans = traces
        .flatMap((t) => t.spans)
        .filter((s) =>
          s.tags.some(
            (t) => t.key === "otel.scope.name" && t.value === "@opentelemetry/instrumentation-undici",
          ),
        );
      return spans.length >= 3;
    };
    expect(await eventually(seen, 10_000, 200)).toBe(true);
    for (const span of spans) {
      expect(span.tags).toContainEqual(expect.objectContaining({ key: "error", value: true }));
      expect(span.tags).toContainEqual(expect.objectContaining({ key: "error.type", value: "CallAborted" }));
    }
  });
});
