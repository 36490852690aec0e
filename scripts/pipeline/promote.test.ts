import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { promoteAcross, promotionPath, readDigests } from "./promote.js";
import { InMemoryTarget } from "./testing/in-memory-target.js";

const initial = { activeColor: "blue" as const, versions: { blue: "1.0.0" }, rollbackWindowSeconds: 0 };

describe("promotion across environments", () => {
  it("when promoting from dev to prod, then the path is dev → staging → prod", () => {
    expect(promotionPath("dev", "prod")).toEqual(["dev", "staging", "prod"]);
    expect(promotionPath("staging", "staging")).toEqual(["staging"]);
  });

  it("when the stages are reversed or unknown, then the error names the flag and the fix", () => {
    expect(() => promotionPath("prod", "dev")).toThrow(
      '--to "dev" comes before --from "prod" — promotions go dev → staging → prod',
    );
    expect(() => promotionPath("qa", "prod")).toThrow(
      '--from "qa" is not a promotion stage — use one of dev, staging, prod',
    );
  });

  it("when staging's gate fails, then staging is rolled back and prod is never touched", async () => {
    const targets = {
      dev: new InMemoryTarget(initial),
      staging: new InMemoryTarget(initial, { gate: { capacity: true } }),
      prod: new InMemoryTarget(initial),
    };
    const lines: string[] = [];
    const out = await promoteAcross(
      "1.1.0",
      ["dev", "staging", "prod"],
      async (s) => targets[s as keyof typeof targets],
      (l) => lines.push(l),
    );

    expect(out.ok).toBe(false);
    expect(out.failedStack).toBe("staging");
    expect(targets.dev.live()).toEqual({ color: "green", version: "1.1.0" });
    expect(targets.staging.live()).toEqual({ color: "blue", version: "1.0.0" });
    expect(targets.prod.calls).toEqual([]);
    expect(lines.at(-1)).toMatch(
      /^✖ staging: capacity gate via preview failed .* \(rolled back\); later stages skipped$/,
    );
  });

  it("when every gate passes, then each stage ends on the new version", async () => {
    const targets = [new InMemoryTarget(initial), new InMemoryTarget(initial)];
    const out = await promoteAcross(
      "1.1.0",
      ["dev", "staging"],
      async (s) => targets[s === "dev" ? 0 : 1]!,
      () => {},
    );

    expect(out.ok).toBe(true);
    expect(targets.map((t) => t.live().version)).toEqual(["1.1.0", "1.1.0"]);
  });

  it("when the images workflow gives digests, then the new color runs them and a bad file fails before any stack", async () => {
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const bp = loadBlueprint("dev");
    const file = join(mkdtempSync(join(tmpdir(), "digests-")), "digests.json");
    const good = Object.fromEntries(bp.services.map((s, i) => [s.name, digest("abc"[i]!)]));
    writeFileSync(file, JSON.stringify(good));
    const digests = readDigests(file, bp);
    const target = new InMemoryTarget(initial);
    const out = await promoteAcross(
      "1.1.0",
      ["dev"],
      async () => target,
      () => {},
      [],
      digests,
    );
    expect(out.ok).toBe(true);
    expect(out.results[0]!.after.digests).toEqual({ green: good });

    writeFileSync(file, JSON.stringify({ ...good, gateway: "latest", billing: digest("d") }));
    expect(() => readDigests(file, bp)).toThrow(
      /gateway: "latest" is not a sha256:<64 hex> digest; billing: not a service of the model$/,
    );
  });
});
