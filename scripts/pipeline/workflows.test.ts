import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";

const ACTIONLINT = join(REPO_ROOT, ".cache", "tools", "bin", "actionlint");
// Named explicitly (setup installs it from apt): actionlint silently skips the run: scripts without shellcheck, so a
// machine without it would pass what GitHub's ubuntu image (which has it) fails.
const SHELLCHECK = "/usr/bin/shellcheck";
const WORKFLOWS = join(REPO_ROOT, ".github", "workflows");
const files = readdirSync(WORKFLOWS)
  .filter((f) => f.endsWith(".yml"))
  .map((f) => join(WORKFLOWS, f));

function actionlint(paths: string[]): { ok: boolean; output: string } {
  try {
    return {
      ok: true,
      output: execFileSync(ACTIONLINT, ["-no-color", `-shellcheck=${SHELLCHECK}`, ...paths], {
        encoding: "utf8",
        stdio: "pipe",
      }),
    };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** actionlint over a one-job workflow with these steps (YAML lines under `steps:`). */
function lintSteps(steps: string): { ok: boolean; output: string } {
  const file = join(mkdtempSync(join(tmpdir(), "actionlint-")), "bad.yml");
  writeFileSync(file, `on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n${steps}`);
  return actionlint([file]);
}

describe("GitHub workflows for users of the blueprint", () => {
  it("when actionlint checks every workflow, then it reports nothing", () => {
    expect(files.map((f) => f.split("/").at(-1)).sort()).toEqual([
      "ci.yml",
      "images.yml",
      "preview-sweep.yml",
      "preview.yml",
      "promote-stage.yml",
      "promote.yml",
      "sync-secrets.yml",
    ]);
    expect(actionlint(files)).toEqual({ ok: true, output: "" });
  });

  it("when a workflow has an error, then actionlint fails naming it (the lint really runs)", () => {
    const result = lintSteps("      - run: echo ${{ github.nope }}\n");
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/property "nope" is not defined/);
  });

  it("when a run: script has a shell defect, then actionlint reports shellcheck's finding (shellcheck really runs)", () => {
    const result = lintSteps(
      '      - run: |\n          echo "a=1" >> "$GITHUB_OUTPUT"\n          echo "b=2" >> "$GITHUB_OUTPUT"\n          echo "c=3" >> "$GITHUB_OUTPUT"\n',
    );
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/SC2129/);
  });

  it("when the weekly secret sync runs, then it syncs every multi-region stack with the sync command", () => {
    const sync = readFileSync(join(WORKFLOWS, "sync-secrets.yml"), "utf8");
    expect(sync).toMatch(/cron: "[^"]+"/);
    expect(sync).toContain('npm run stack:sync-secrets -- --stack "$STAGE"');
    const multiRegion = ["dev", "staging", "prod"].filter((s) => loadBlueprint(s).regions.length > 1);
    const stages = [...sync.matchAll(/\{ stage: (\w+), environment: (\w+) \}/g)].map(
      (m) => `${m[1]}:${m[2]}`,
    );
    // The same GitHub environments as the promotion (prod's is "production").
    const promote = readFileSync(join(WORKFLOWS, "promote.yml"), "utf8");
    const envOf = (stage: string) =>
      new RegExp(`stage: ${stage}\\n\\s+environment: (\\w+)`).exec(promote)?.[1];
    expect(stages).toEqual(multiRegion.map((s) => `${s}:${envOf(s)}`));
  });

  it("when a workflow deploys images, then it first builds them with the images workflow and deploys its tag", () => {
    const read = (f: string) => readFileSync(join(WORKFLOWS, f), "utf8");
    for (const f of ["preview.yml", "promote.yml"]) {
      expect(read(f), f).toMatch(/ {2}images:\n(?: {4}.*\n)*? {4}uses: \.\/\.github\/workflows\/images\.yml/);
      expect(read(f), f).toMatch(/needs: images/);
    }
    expect(read("preview.yml")).toContain('--version "$IMAGE_TAG"');
    expect(read("images.yml")).toContain("docker/build-push-action@v6");
    expect(read("images.yml")).toContain('sha="sha-$(git rev-parse --short=12 HEAD)"');
  });

  it("when a release is promoted, then each stage is its own job in its own environment, chained dev → staging → prod, with OIDC and the policy pack", () => {
    const promote = readFileSync(join(WORKFLOWS, "promote.yml"), "utf8");
    const stage = readFileSync(join(WORKFLOWS, "promote-stage.yml"), "utf8");
    type Job = { needs: string | string[]; uses?: string; with?: Record<string, string> };
    const jobs = (parse(promote) as { jobs: Record<string, Job> }).jobs;
    const stages = Object.entries(jobs).filter(([, j]) => j.uses === "./.github/workflows/promote-stage.yml");
    // Each stage after the previous one; every stage deploys the digests the images job pushed.
    expect(stages.map(([name, j]) => `${[j.needs].flat().join("+")} → ${name}`)).toEqual([
      "images → dev",
      "images+dev → staging",
      "images+staging → prod",
    ]);
    for (const [, j] of stages) expect(j.with?.digests).toBe("${{ needs.images.outputs.digests }}");
    expect(jobs.prod?.with?.environment).toBe("production");
    expect(stage).toContain('--digests "$RUNNER_TEMP/digests.json"');
    expect(readFileSync(join(WORKFLOWS, "images.yml"), "utf8")).toContain(
      "value: ${{ jobs.digests.outputs.json }}",
    );
    expect(stage).toContain("environment: ${{ inputs.environment }}");
    expect(stage).toContain("id-token: write");
    expect(stage).toContain("aws-actions/configure-aws-credentials@v4");
    expect(stage).toContain("pulumi/auth-actions@v1");
    expect(stage).toContain("--policy-pack infra/policy");
    expect(stage).not.toMatch(/cancel-in-progress: true/);
  });

  it("when a workflow runs an npm script, then package.json defines it", () => {
    const scripts = Object.keys(
      JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as object,
    );
    const used = files.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/npm run (?:-s )?([\w:-]+)/g)].map((m) => m[1]!),
    );
    expect(used).toEqual(expect.arrayContaining(["preview:create", "preview:destroy", "promote"]));
    for (const s of used) expect(scripts, `npm run ${s}`).toContain(s);
  });
});
