import type { Color, StackConfigInput } from "./schema.js";

/** The part of the stack config a promotion changes; the pipeline writes it back as `blueprint:rollout`. */
export type RolloutConfig = NonNullable<StackConfigInput["rollout"]>;

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/**
 * Step 1 of a promotion: the idle color gets the new version and its images' digests (if known); live traffic does
 * not move. The idle color's old digests always go: they belong to the version it ran before.
 */
export function deployToIdle(
  rollout: RolloutConfig,
  version: string,
  digests?: Record<string, string>,
): RolloutConfig {
  const active = rollout.activeColor ?? "blue";
  const idle = otherColor(active);
  const kept = { ...rollout.digests };
  delete kept[idle];
  return {
    ...rollout,
    activeColor: active,
    versions: { ...rollout.versions, [idle]: version },
    ...(digests || rollout.digests ? { digests: digests ? { ...kept, [idle]: digests } : kept } : {}),
    weights: undefined,
  };
}

/** Step 2: the idle color becomes active (weights 100/0); the old color stays deployed for the rollback window. */
export function switchColors(rollout: RolloutConfig): RolloutConfig {
  const next = otherColor(rollout.activeColor ?? "blue");
  if (!rollout.versions?.[next]) throw new Error(`cannot switch to "${next}": it has no version`);
  return { ...rollout, activeColor: next, weights: undefined };
}

/** Canary step: a share of public traffic to the idle color. */
export function canary(rollout: RolloutConfig, idlePercent: number): RolloutConfig {
  const active = rollout.activeColor ?? "blue";
  const idle = otherColor(active);
  if (!Number.isInteger(idlePercent) || idlePercent < 0 || idlePercent > 100) {
    throw new Error(`canary percent must be an integer 0..100 (got ${idlePercent})`);
  }
  return {
    ...rollout,
    weights: { [active]: 100 - idlePercent, [idle]: idlePercent } as Record<Color, number>,
  };
}

/** After the rollback window: the old color is removed. */
export function retireIdle(rollout: RolloutConfig): RolloutConfig {
  const idle = otherColor(rollout.activeColor ?? "blue");
  const versions = { ...rollout.versions };
  delete versions[idle];
  if (!rollout.digests) return { ...rollout, versions, weights: undefined };
  const digests = { ...rollout.digests };
  delete digests[idle];
  return { ...rollout, versions, digests, weights: undefined };
}

/** The part of a rollout that decides what runs and gets traffic. */
export interface LiveRollout {
  activeColor: Color;
  versions: Partial<Record<Color, string>>;
  weights?: Record<Color, number>;
  /** The images each color runs by digest (rollout.digests), when the pipeline deployed them so. */
  digests?: Partial<Record<Color, Record<string, string>>>;
}

const sameRollout = (a: LiveRollout, b: LiveRollout) => {
  const w = (r: LiveRollout) => r.weights ?? { [r.activeColor]: 100 };
  const clean = (v: Partial<Record<Color, string>>) =>
    JSON.stringify(
      Object.entries(v)
        .filter(([, x]) => x)
        .sort(),
    );
  const pins = (r: LiveRollout) =>
    JSON.stringify(
      Object.entries(r.digests ?? {})
        .filter(([, d]) => d && Object.keys(d).length > 0)
        .map(([c, d]) => [c, Object.entries(d!).sort()])
        .sort(),
    );
  return (
    a.activeColor === b.activeColor &&
    clean(a.versions) === clean(b.versions) &&
    (w(a)[a.activeColor] ?? 100) === (w(b)[b.activeColor] ?? 100) &&
    pins(a) === pins(b)
  );
};

/**
 * Why this update must not run, or undefined: it would change the rollout the stack runs (`deployed`, from its own
 * outputs) although nobody who knew the deployed rollout asked for the change (`from`, which the pipeline writes as
 * `blueprint:rolloutFrom`). That is a plain `pulumi up` from a checkout whose stack file is older than the last
 * promotion (CI does not commit it back): it would switch traffic back and delete the live color.
 */
export function rolloutGuard(
  stack: string,
  configured: LiveRollout,
  deployed: LiveRollout | undefined,
  from: LiveRollout | undefined,
): string | undefined {
  if (!deployed || sameRollout(configured, deployed)) return undefined;
  if (from && sameRollout(from, deployed)) return undefined;
  const show = (r: LiveRollout) =>
    `${r.activeColor} (${Object.entries(r.versions)
      .filter(([, v]) => v)
      .map(([c, v]) => `${c} ${v}`)
      .join(", ")})`;
  return (
    `stack "${stack}" runs ${show(deployed)}, but its blueprint:rollout says ${show(configured)}: this update would undo the last promotion. ` +
    `Promote or roll back with \`npm run promote\` (it records blueprint:rolloutFrom), or, to change it by hand on purpose, ` +
    `set blueprint:rolloutFrom to the deployed rollout: ${JSON.stringify(deployed)}`
  );
}
