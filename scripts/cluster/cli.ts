// `npm run cluster [-- --stack rehearsal] [--no-pipeline] [--no-previews] [--keep-state]`: the cluster rehearsal.
// Real Kubernetes control planes on loopback (one per region of the stack), the upstream CRDs, and the real Pulumi
// engine on the program infra/index.ts runs; writes reports/cluster-<time>/report.{md,json}.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { stopAll } from "../lib/servers/process.js";
import { rehearse } from "./rehearsal.js";
import { writeRehearsalReport } from "./report.js";

const { values } = parseArgs({
  options: {
    stack: { type: "string", default: "rehearsal" },
    "no-pipeline": { type: "boolean", default: false },
    "no-previews": { type: "boolean", default: false },
    "keep-state": { type: "boolean", default: false },
  },
});
const started = Date.now();
const stateDir = mkdtempSync(join(tmpdir(), "blueprint-cluster-"));
const log = (line: string) => process.stdout.write(`${line}\n`);
let code = 1;
try {
  const report = await rehearse({
    stack: values.stack,
    stateDir,
    log,
    pipeline: !values["no-pipeline"],
    previews: !values["no-previews"],
  });
  const files = writeRehearsalReport(
    report,
    join(REPO_ROOT, "reports", `cluster-${new Date().toISOString().replaceAll(":", "-").slice(0, 19)}`),
  );
  const up = report.steps.find((s) => s.name === "pulumi up");
  log(
    `${report.ok ? "✔ PASS" : "✖ FAIL"}: stack ${report.stack} on ${report.clusters.length} control planes (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  log(
    `  objects: ${report.objectsInState} in the state, ${report.objectsOnServer} on the API servers; up ${up ? (up.ms / 1000).toFixed(1) : "-"} s`,
  );
  log(
    `  preview after up: ${JSON.stringify(report.noChangePreview)}; left after destroy: ${Object.values(report.leftAfterDestroy).flat().length}`,
  );
  log(`  report: ${files.markdown}`);
  code = report.ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`✖ ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await stopAll();
  if (values["keep-state"]) log(`  state kept in ${stateDir}`);
  else rmSync(stateDir, { recursive: true, force: true });
}
process.exit(code);
