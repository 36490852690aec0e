// `npm run fuzz [-- --target edge|gateway]`: the long schemathesis run (10,000+ cases) against gateway + catalog +
// orders on real FerretDB, Redis and Kafka, then the malformed-HTTP fuzzer; by default through the local edge
// (nginx with the config of `npm run local`), with `--target gateway` at the gateway alone. Writes
// reports/fuzz/<time>/ and exits non-zero on any finding.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startFuzzEdge } from "./edge.js";
import { exchange, runMalformedHttp, type RawTarget } from "./malformed-http.js";
import { runSchemathesisSuite } from "./schemathesis.js";
import { startFuzzStack } from "./stack.js";

const { values } = parseArgs({ options: { target: { type: "string", default: "edge" } } });
const target = values.target;
if (target !== "edge" && target !== "gateway") {
  console.error(`--target must be edge or gateway (got ${target})`);
  process.exit(2);
}
const examples = Number(process.env.FUZZ_EXAMPLES ?? 1500);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const minCases = Number(process.env.FUZZ_MIN_CASES ?? 10_000);
const dir = resolve("reports/fuzz", new Date().toISOString().replace(/[:.]/g, "-"));
mkdirSync(dir, { recursive: true });

// Raw, because the edge answers only its own Host (fetch would send the address).
const readyz = (host: string) => `GET /readyz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

const stack = await startFuzzStack();
let failed = true;
try {
  const edge = target === "edge" ? await startFuzzEdge(stack.gateway.url) : undefined;
  try {
    const url = edge?.url ?? stack.gateway.url;
    const raw: RawTarget = edge
      ? { ...edge.timeouts, host: edge.host, closesSilentlyOnTimeout: true }
      : stack.gatewayTimeouts;
    const api = await runSchemathesisSuite({
      baseUrl: url,
      schemaUrl: `${stack.gateway.url}/openapi.json`,
      ...(edge ? { headers: { Host: edge.host } } : {}),
      maxExamples: examples,
      seed,
      reportDir: join(dir, "schemathesis"),
      deadlineMs: Number(process.env.FUZZ_DEADLINE_MS ?? 45 * 60_000),
      maxResponseSeconds: 4,
      echo: true,
    });
    const malformed = await runMalformedHttp(url, {
      rounds: Number(process.env.FUZZ_RAW_ROUNDS ?? 2000),
      seed,
      ...raw,
      // Through the edge a slow client is held for nginx's timeouts: more sockets so those run side by side.
      ...(edge ? { concurrency: 96 } : {}),
    });
    const report = {
      target,
      url,
      ...(edge ? { edgeTimeouts: edge.timeouts } : { gatewayTimeouts: stack.gatewayTimeouts }),
      seed,
      examplesPerOperation: examples,
      schemathesis: {
        cases: api.cases,
        failures: api.failures,
        exitCode: api.exitCode,
        seconds: Math.round(api.seconds),
        parts: api.parts.map((p) => ({
          cases: p.cases,
          failures: p.failures,
          seconds: Math.round(p.seconds),
        })),
      },
      malformedHttp: malformed,
      gatewayAlive: (await fetch(`${stack.gateway.url}/livez`)).status === 200,
      ...(edge
        ? {
            edgeAlive:
              (await exchange(edge.url, "readyz", [{ delayMs: 0, bytes: readyz(edge.host) }], 5000))
                .status === 200,
          }
        : {}),
    };
    writeFileSync(join(dir, "report.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileSync(join(dir, "schemathesis-summary.txt"), api.summary);
    failed =
      api.exitCode !== 0 ||
      api.failures !== 0 ||
      api.cases < minCases ||
      malformed.serverErrors > 0 ||
      malformed.findings.length > 0 ||
      !report.gatewayAlive ||
      report.edgeAlive === false;
    console.log(JSON.stringify(report, null, 2));
    console.log(`${failed ? "✖ findings" : "✔ clean"} (target ${target}): report in ${dir}`);
  } finally {
    await edge?.stop();
  }
} finally {
  await stack.stop();
}
process.exit(failed ? 1 : 0);
