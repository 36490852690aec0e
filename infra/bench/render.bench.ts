// `npm run bench:render`: a benchmark, not a test. Times the mock-engine render of the real stacks and of a
// generated 10-region × 20-service stack, split into phases, and reports how time grows per resource.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBlueprint } from "../config/stack-file.js";
import type { Blueprint } from "../model/index.js";
import { generatedBlueprint } from "./generated-stack.js";
import { runKubeScore } from "../render/kube-score.js";
import { renderBlueprint } from "../render/render.js";
import { writeRender } from "../render/render-stack.js";
import { createValidator } from "../render/validate.js";

async function time<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

const root = mkdtempSync(join(tmpdir(), "blueprint-bench-"));
try {
  const validator = await createValidator();
  await renderBlueprint(loadBlueprint("dev")); // warm-up: module loading and JIT out of the figures
  const cases: [string, Blueprint][] = [
    ["dev", loadBlueprint("dev")],
    ["staging", loadBlueprint("staging")],
    ["prod", loadBlueprint("prod")],
    ["generated 10 regions × 20 services", generatedBlueprint(10, 20)],
  ];
  const rows: string[] = [];
  let base: { resources: number; ms: number } | undefined;
  for (const [label, bp] of cases) {
    const [render, engineMs] = await time(() => renderBlueprint(bp));
    const objects = render.regions.flatMap((r) => r.objects);
    const [errors, validateMs] = await time(() => validator.validate(objects));
    const [files, writeMs] = await time(() => writeRender(render, root));
    const [score, scoreMs] = await time(() => runKubeScore(files.scored));
    const total = engineMs + validateMs + writeMs + scoreMs;
    const perResource = (engineMs / render.resourceCount) * 1000;
    const growth = base
      ? ` | ×${(render.resourceCount / base.resources).toFixed(1)} resources → ×${(engineMs / base.ms).toFixed(1)} engine time`
      : "";
    base ??= { resources: render.resourceCount, ms: engineMs };
    rows.push(
      `${label.padEnd(36)} ${String(render.resourceCount).padStart(5)} resources ${String(objects.length).padStart(5)} objects | ` +
        `engine+render ${engineMs.toFixed(0).padStart(6)} ms (${perResource.toFixed(0)} µs/resource) | validate ${validateMs.toFixed(0)} ms | ` +
        `write ${writeMs.toFixed(0)} ms | kube-score ${score.available ? `${scoreMs.toFixed(0)} ms, ${score.critical.length} critical` : "not installed"} | ` +
        `total ${total.toFixed(0)} ms | ${errors.length} invalid${growth}`,
    );
  }
  console.log(rows.join("\n"));
} finally {
  rmSync(root, { recursive: true, force: true });
}
