// `npm run bench:render`: a benchmark, not a test. Times the mock-engine render of the real stacks and of a
// generated 10-region × 20-service stack, split into phases, and reports how time grows per resource.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBlueprint } from "../config/stack-file.js";
import { parseBlueprint, type Blueprint } from "../model/index.js";
import { runKubeScore } from "../render/kube-score.js";
import { renderBlueprint } from "../render/render.js";
import { writeRender } from "../render/render-stack.js";
import { createValidator } from "../render/validate.js";

/** A large stack built from the model schema in memory: `regions` clusters, `services` services each. */
export function generatedBlueprint(regions: number, services: number): Blueprint {
  const pad = (n: number) => String(n).padStart(2, "0");
  const names = Array.from({ length: services }, (_, i) => `svc-${pad(i + 1)}`);
  return parseBlueprint(
    {
      environment: "prod",
      regions: Array.from({ length: regions }, (_, i) => ({
        name: `r${pad(i + 1)}`,
        primary: i === 0,
        cloudRegion: `eu-west-${(i % 9) + 1}`,
        podCidr: `10.${i + 1}.0.0/16`,
        kubeconfig: { context: `r${pad(i + 1)}` },
      })),
      services: names.map((name, i) => ({
        name,
        image: `ghcr.io/example/${name}`,
        port: 9000 + i,
        replicas: { min: 3, max: 12 },
        // A chain of calls plus every data store: the NetworkPolicy paths grow with the services.
        dependsOn: ["redis", "mongo", "kafka", ...(i + 1 < services ? [names[i + 1]!] : [])],
      })),
      edge: {
        hostname: "big.example.com",
        routes: [
          ...names.map((n) => ({ path: `/api/${n}`, service: n })),
          { path: "/readyz", match: "exact", service: names[0] },
        ],
      },
      rollout: { activeColor: "blue", versions: { blue: "1.0.0", green: "1.1.0" } },
      dns: {
        provider: "cloudflare",
        zone: "example.com",
        healthCheck: { intervalSeconds: 15, failureThreshold: 2 },
      },
    },
    "bench-10x20",
  );
}

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
