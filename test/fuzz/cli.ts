// `npm run fuzz`: the long schemathesis run (10,000+ cases) against gateway + catalog + orders on real FerretDB,
// Redis and Kafka, then the malformed-HTTP fuzzer; writes reports/fuzz/<time>/ and exits non-zero on any finding.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runMalformedHttp } from "./malformed-http.js";
import { runSchemathesisSuite } from "./schemathesis.js";
import { startFuzzStack } from "./stack.js";

const examples = Number(process.env.FUZZ_EXAMPLES ?? 1500);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const minCases = Number(process.env.FUZZ_MIN_CASES ?? 10_000);
const dir = resolve("reports/fuzz", new Date().toISOString().replace(/[:.]/g, "-"));
mkdirSync(dir, { recursive: true });

const stack = await startFuzzStack();
let failed = true;
try {
  const api = await runSchemathesisSuite({
    baseUrl: stack.gateway.url,
    maxExamples: examples,
    seed,
    reportDir: join(dir, "schemathesis"),
    deadlineMs: Number(process.env.FUZZ_DEADLINE_MS ?? 45 * 60_000),
    maxResponseSeconds: 4,
    echo: true,
  });
  const raw = await runMalformedHttp(stack.gateway.url, {
    rounds: Number(process.env.FUZZ_RAW_ROUNDS ?? 2000),
    seed,
    ...stack.gatewayTimeouts,
  });
  const report = {
    seed,
    examplesPerOperation: examples,
    schemathesis: {
      cases: api.cases,
      failures: api.failures,
      exitCode: api.exitCode,
      seconds: Math.round(api.seconds),
      parts: api.parts.map((p) => ({ cases: p.cases, failures: p.failures, seconds: Math.round(p.seconds) })),
    },
    malformedHttp: raw,
    gatewayAlive: (await fetch(`${stack.gateway.url}/livez`)).status === 200,
  };
  writeFileSync(join(dir, "report.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(join(dir, "schemathesis-summary.txt"), api.summary);
  failed =
    api.exitCode !== 0 ||
    api.failures !== 0 ||
    api.cases < minCases ||
    raw.serverErrors > 0 ||
    raw.findings.length > 0 ||
    !report.gatewayAlive;
  console.log(JSON.stringify(report, null, 2));
  console.log(`${failed ? "✖ findings" : "✔ clean"}: report in ${dir}`);
} finally {
  await stack.stop();
}
process.exit(failed ? 1 : 0);
