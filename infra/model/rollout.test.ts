import { describe, expect, it } from "vitest";
import { rolloutGuard, type LiveRollout } from "./rollout.js";

const blue: LiveRollout = { activeColor: "blue", versions: { blue: "1.0.0" } };
const green: LiveRollout = { activeColor: "green", versions: { green: "1.1.0" } };
const bothGreen: LiveRollout = { activeColor: "green", versions: { blue: "1.0.0", green: "1.1.0" } };

describe("the rollout guard: a plain `pulumi up` never silently undoes a promotion", () => {
  it("when the stack was never deployed, or the config matches what runs, then the update may run", () => {
    expect(rolloutGuard("prod", blue, undefined, undefined)).toBeUndefined();
    expect(
      rolloutGuard("prod", green, { ...green, weights: { blue: 0, green: 100 } }, undefined),
    ).toBeUndefined();
  });

  it("when a stale checkout's rollout differs from what runs and nobody recorded the deployed one, then it is refused naming both and the fix", () => {
    expect(rolloutGuard("prod", blue, green, undefined)).toBe(
      'stack "prod" runs green (green 1.1.0), but its blueprint:rollout says blue (blue 1.0.0): this update would undo the last promotion. ' +
        "Promote or roll back with `npm run promote` (it records blueprint:rolloutFrom), or, to change it by hand on purpose, " +
        'set blueprint:rolloutFrom to the deployed rollout: {"activeColor":"green","versions":{"green":"1.1.0"}}',
    );
    // A recorded starting point that is not what runs (an older pipeline run's) does not count either.
    expect(rolloutGuard("prod", blue, green, bothGreen)).toMatch(/would undo the last promotion/);
    // A canary split is a change of rollout too.
    expect(rolloutGuard("prod", { ...green, weights: { blue: 50, green: 50 } }, green, undefined)).toMatch(
      /would undo/,
    );
  });

  it("when the refusal's suggested rolloutFrom is set during a canary, then the update may run", () => {
    const canary: LiveRollout = { ...bothGreen, weights: { blue: 90, green: 10 } };
    const refusal = rolloutGuard("prod", blue, canary, undefined)!;
    const suggested = JSON.parse(refusal.slice(refusal.indexOf("{"))) as LiveRollout;
    expect(suggested.weights).toEqual({ blue: 90, green: 10 });
    expect(rolloutGuard("prod", blue, canary, suggested)).toBeUndefined();
  });

  it("when the change starts from the deployed rollout (the pipeline's blueprint:rolloutFrom), then it may run", () => {
    expect(rolloutGuard("prod", bothGreen, green, green)).toBeUndefined();
    expect(rolloutGuard("prod", blue, green, { ...green, weights: { blue: 0, green: 100 } })).toBeUndefined();
  });

  it("when a stale checkout names the live version but not the digests it runs, then the update is refused", () => {
    const pinned: LiveRollout = { ...green, digests: { green: { gateway: `sha256:${"a".repeat(64)}` } } };
    expect(rolloutGuard("prod", green, pinned, undefined)).toMatch(/would undo the last promotion/);
    expect(rolloutGuard("prod", pinned, pinned, undefined)).toBeUndefined();
    // Empty digests are no pins at all.
    expect(rolloutGuard("prod", { ...green, digests: {} }, green, undefined)).toBeUndefined();
  });
});
