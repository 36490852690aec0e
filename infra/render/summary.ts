import { KUBE_SCORE } from "./kube-score.js";
import { OUT_DIR, type StackReport } from "./render-stack.js";

/**
 * What `npm run render` prints for one stack and whether it fails: any invalid object, any kube-score
 * critical, or kube-score missing (a render that skipped the linter must not pass as clean).
 */
export function summarize(report: StackReport, ms: number): { lines: string[]; failed: boolean } {
  const lines = [
    `\n== ${report.stack}: ${report.render.resourceCount} Pulumi resources, ${report.objects} Kubernetes objects, ${ms} ms → ${OUT_DIR}/${report.stack}`,
    ...Object.entries(report.counts).map(([kind, n]) => `  ${kind.padEnd(28)} ${n}`),
    `schema validation: ${report.errors.length} error(s)`,
    ...report.errors.map((e) => `  ✗ ${e.object}: ${e.message}`),
  ];
  const score = report.kubeScore;
  if (!score.available) {
    lines.push(`kube-score: not installed at ${KUBE_SCORE} — run \`npm run setup\` (it installs kube-score)`);
  } else {
    lines.push(`kube-score: ${score.critical.length} critical, ${score.warning.length} warning`);
    lines.push(...[...score.critical, ...score.warning].map((line) => `  ${line}`));
  }
  const failed = report.errors.length > 0 || !score.available || score.critical.length > 0;
  return { lines, failed };
}
