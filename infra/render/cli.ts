import { parseArgs } from "node:util";
import { KUBE_SCORE } from "./kube-score.js";
import { OUT_DIR, renderStack } from "./render-stack.js";

// `npm run render -- --stack dev [--stack prod]`: exit 1 on any invalid object or kube-score critical.
const { values } = parseArgs({ options: { stack: { type: "string", multiple: true } } });
const stacks = values.stack ?? [];
if (stacks.length === 0) {
  console.error("usage: npm run render -- --stack <name> [--stack <name>...]   (e.g. --stack dev)");
  process.exit(2);
}
let failed = false;
for (const stack of stacks) {
  const started = performance.now();
  const report = await renderStack(stack);
  const ms = Math.round(performance.now() - started);
  console.log(
    `\n== ${stack}: ${report.render.resourceCount} Pulumi resources, ${report.objects} Kubernetes objects, ${ms} ms → ${OUT_DIR}/${stack}`,
  );
  for (const [kind, n] of Object.entries(report.counts)) console.log(`  ${kind.padEnd(28)} ${n}`);
  console.log(`schema validation: ${report.errors.length} error(s)`);
  for (const e of report.errors) console.log(`  ✗ ${e.object}: ${e.message}`);
  if (!report.kubeScore.available) {
    console.log(`kube-score: not installed at ${KUBE_SCORE} — run \`npm run setup\``);
  } else {
    console.log(
      `kube-score: ${report.kubeScore.critical.length} critical, ${report.kubeScore.warning.length} warning`,
    );
    for (const line of [...report.kubeScore.critical, ...report.kubeScore.warning]) console.log(`  ${line}`);
  }
  if (report.errors.length > 0 || report.kubeScore.critical.length > 0) failed = true;
}
process.exit(failed ? 1 : 0);
