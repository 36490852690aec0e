// `npm run promote -- --version 1.2.0 --from dev --to prod`: the blue-green promotion on each Pulumi stack in
// order (dev → staging → prod), each with its own capacity gate; the first failure rolls that stack back and stops.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import type { Blueprint } from "../../infra/model/index.js";
import { CloudTarget, runMain } from "./cloud-target.js";
import { promote, type PromotionResult } from "./machine.js";
import type { PromotionTarget } from "./target.js";

export const PROMOTION_ORDER = ["dev", "staging", "prod"] as const;

/** The stacks a version passes through, `from` and `to` included. */
export function promotionPath(
  from: string,
  to: string,
  order: readonly string[] = PROMOTION_ORDER,
): string[] {
  const [i, j] = [order.indexOf(from), order.indexOf(to)];
  if (i < 0) throw new Error(`--from "${from}" is not a promotion stage — use one of ${order.join(", ")}`);
  if (j < 0) throw new Error(`--to "${to}" is not a promotion stage — use one of ${order.join(", ")}`);
  if (j < i)
    throw new Error(`--to "${to}" comes before --from "${from}" — promotions go ${order.join(" → ")}`);
  return order.slice(i, j + 1);
}

/** Promotes `version` through the stacks in order; stops at the first stack whose promotion fails. */
export async function promoteAcross(
  version: string,
  stacks: string[],
  targetFor: (stack: string) => Promise<PromotionTarget>,
  log: (line: string) => void,
  canaryPercents: number[] = [],
  digests?: Record<string, string>,
): Promise<{ ok: boolean; results: PromotionResult[]; failedStack?: string }> {
  const results: PromotionResult[] = [];
  for (const stack of stacks) {
    log(`== ${stack}: promoting ${version}`);
    const result = await promote(await targetFor(stack), {
      version,
      log,
      canaryPercents,
      ...(digests ? { digests } : {}),
    });
    results.push(result);
    if (!result.ok) {
      log(`✖ ${stack}: ${result.reason}${result.rolledBack ? " (rolled back)" : ""}; later stages skipped`);
      return { ok: false, results, failedStack: stack };
    }
    log(`✔ ${stack}: ${version} is live on ${result.after.activeColor}`);
  }
  return { ok: true, results };
}

/**
 * The images workflow's `{"<service>": "sha256:…"}`, checked before any stack changes: every service of the model
 * has one, each a sha256 digest (the model checks the same again as blueprint:rollout.digests).
 */
export function readDigests(file: string, bp: Blueprint): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(
      `--digests ${file}: not a JSON file (${(error as Error).message}) — pass images.yml's digests output`,
    );
  }
  const digests = (parsed ?? {}) as Record<string, unknown>;
  const problems = bp.services.flatMap((s) =>
    typeof digests[s.name] === "string" && /^sha256:[a-f0-9]{64}$/.test(digests[s.name] as string)
      ? []
      : [`${s.name}: ${JSON.stringify(digests[s.name])} is not a sha256:<64 hex> digest`],
  );
  const unknown = Object.keys(digests).filter((k) => !bp.services.some((s) => s.name === k));
  problems.push(...unknown.map((k) => `${k}: not a service of the model`));
  if (problems.length > 0) throw new Error(`--digests ${file}: ${problems.join("; ")}`);
  return digests as Record<string, string>;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      version: { type: "string" },
      from: { type: "string", default: "dev" },
      to: { type: "string", default: "prod" },
      canary: { type: "string" },
      "policy-pack": { type: "string", multiple: true },
      digests: { type: "string" },
    },
  });
  if (!values.version) {
    process.stderr.write(
      "usage: npm run promote -- --version <tag> [--from dev] [--to prod] [--canary 10,50] [--policy-pack <dir>]... [--digests <file.json>]\n",
    );
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  // A cancelled CI job sends SIGINT, then SIGTERM: cancel the running update so the stack is not left locked.
  let current: CloudTarget | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      log(`✖ ${signal}: cancelling the update of ${current?.name ?? "(no stack yet)"}`);
      void (current?.cancel() ?? Promise.resolve()).finally(() =>
        process.exit(signal === "SIGINT" ? 130 : 143),
      );
    });
  const reportDir = join(REPO_ROOT, "reports", `promote-${values.version}-${Date.now()}`);
  const stacks = promotionPath(values.from, values.to);
  // Every stage's config is validated by the model before anything changes.
  const blueprints = new Map(stacks.map((s) => [s, loadBlueprint(s)]));
  const { ok } = await promoteAcross(
    values.version,
    stacks,
    async (stack) => {
      const target = await CloudTarget.select(stack, {
        blueprint: blueprints.get(stack)!,
        reportDir,
        log,
        policyPacks: values["policy-pack"] ?? [],
      });
      current = target;
      return target;
    },
    log,
    values.canary ? values.canary.split(",").map(Number) : [],
    values.digests ? readDigests(values.digests, [...blueprints.values()][0]!) : undefined,
  );
  return ok ? 0 : 1;
}

runMain(import.meta.url, main);
