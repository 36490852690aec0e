import { parseArgs } from "node:util";
import { renderStack } from "./render-stack.js";
import { summarize } from "./summary.js";

// `npm run render -- --stack dev [--stack prod]`: exit 1 on any invalid object, kube-score critical, or missing kube-score.
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
  const summary = summarize(report, Math.round(performance.now() - started));
  for (const line of summary.lines) console.log(line);
  if (summary.failed) failed = true;
}
process.exit(failed ? 1 : 0);
