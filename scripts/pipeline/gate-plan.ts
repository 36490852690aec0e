import type { GateKind } from "./target.js";

/** One k6 run of a gate: which script (kind) through which region's endpoint. */
export interface PlannedGate<E> {
  kind: GateKind;
  endpoint: E;
}

/**
 * The k6 runs of one gate, in stages: the runs of a stage go at once, a stage starts when the previous one ended.
 * A capacity gate runs alone through the primary region (first endpoint), so its figures measure the release and
 * not a machine shared with other k6 runs; then a smoke gate through every other region proves each reaches the new
 * color. A smoke gate runs in every region at once (a light 2-10 req/s each).
 */
export function gatePlan<E>(kind: GateKind, endpoints: readonly E[]): PlannedGate<E>[][] {
  const [primary, ...others] = endpoints;
  if (primary === undefined) throw new Error("no region endpoints to gate");
  if (kind === "smoke") return [endpoints.map((endpoint) => ({ kind, endpoint }))];
  const stages: PlannedGate<E>[][] = [[{ kind, endpoint: primary }]];
  if (others.length > 0) stages.push(others.map((endpoint) => ({ kind: "smoke" as const, endpoint })));
  return stages;
}

/** Runs the stages in order (each stage's runs at once); results in plan order. */
export async function runPlan<E, R>(
  stages: PlannedGate<E>[][],
  run: (gate: PlannedGate<E>) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (const stage of stages) results.push(...(await Promise.all(stage.map(run))));
  return results;
}
