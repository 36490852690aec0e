import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadBlueprint, REPO_ROOT } from "./stack-file.js";

// The images workflow and the model must agree on where the images live: the workflow pushes
// <blueprint:imageRegistry>/blueprint-<service>, the stacks deploy the model's images. These tests run the
// workflow's own step, so a change to either side that breaks the contract fails here.

const STACK_FILES = [
  "Pulumi.dev.yaml",
  "Pulumi.staging.yaml",
  "Pulumi.prod.yaml",
  "infra/stacks/preview.template.yaml",
];

function registryStep(): string {
  const workflow = parse(readFileSync(join(REPO_ROOT, ".github", "workflows", "images.yml"), "utf8")) as {
    jobs: { build: { steps: { id?: string; run?: string }[] } };
  };
  const step = workflow.jobs.build.steps.find((s) => s.id === "registry");
  if (!step?.run) throw new Error("images.yml has no step with id registry");
  return step.run;
}

/** Runs the workflow's registry step in `cwd`; returns its GITHUB_OUTPUT or the error annotation. */
function runStep(cwd: string): { ok: boolean; output: string } {
  const out = join(mkdtempSync(join(tmpdir(), "gh-output-")), "output");
  writeFileSync(out, "");
  try {
    execFileSync("bash", ["-e", "-c", registryStep()], {
      cwd,
      env: { PATH: process.env.PATH, GITHUB_OUTPUT: out },
      stdio: "pipe",
    });
    return { ok: true, output: readFileSync(out, "utf8") };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: Buffer }).stdout ?? "") };
  }
}

function copyStacks(edit?: { file: string; from: string; to: string }): string {
  const dir = mkdtempSync(join(tmpdir(), "stacks-"));
  mkdirSync(join(dir, "infra", "stacks"), { recursive: true });
  for (const f of STACK_FILES) cpSync(join(REPO_ROOT, f), join(dir, f));
  if (edit) {
    const path = join(dir, edit.file);
    writeFileSync(path, readFileSync(path, "utf8").replace(edit.from, edit.to));
  }
  return dir;
}

describe("image registry contract between the images workflow and the stacks", () => {
  it("when the images workflow reads the stack files, then it pushes to the registry every deploying stack pulls from", () => {
    const result = runStep(REPO_ROOT);
    expect(result.ok).toBe(true);
    const registry = /^value=(.+)$/m.exec(result.output)?.[1];
    for (const stack of ["dev", "staging", "prod"]) {
      const bp = loadBlueprint(stack);
      expect(bp.imageRegistry, stack).toBe(registry);
      for (const s of bp.services)
        expect(s.image, `${stack} ${s.name}`).toBe(`${registry}/blueprint-${s.name}`);
    }
  });

  it("when a stack file quotes the value, then the workflow reads the same registry", () => {
    const dir = copyStacks({
      file: "Pulumi.prod.yaml",
      from: "blueprint:imageRegistry: ghcr.io/example",
      to: 'blueprint:imageRegistry: "ghcr.io/example" # quoted',
    });
    expect(runStep(dir)).toEqual({ ok: true, output: "value=ghcr.io/example\n" });
  });

  it("when two stack files name different registries, then the workflow fails naming the file", () => {
    const dir = copyStacks({
      file: "Pulumi.prod.yaml",
      from: "blueprint:imageRegistry: ghcr.io/example",
      to: "blueprint:imageRegistry: ghcr.io/other",
    });
    expect(runStep(dir)).toEqual({
      ok: false,
      output:
        "::error file=Pulumi.prod.yaml::blueprint:imageRegistry is ghcr.io/other here but ghcr.io/example in the files before it — use one registry in every stack file\n",
    });
  });

  it("when a stack file lacks imageRegistry, then the workflow fails instead of pushing to the placeholder", () => {
    const dir = copyStacks({
      file: "Pulumi.dev.yaml",
      from: "blueprint:imageRegistry: ghcr.io/example",
      to: "",
    });
    expect(runStep(dir)).toEqual({
      ok: false,
      output:
        "::error file=Pulumi.dev.yaml::set blueprint:imageRegistry (e.g. ghcr.io/my-org): the registry these images are pushed to and the stack deploys from\n",
    });
  });
});

describe("one Dockerfile builds every service's image", () => {
  const dockerfile = readFileSync(join(REPO_ROOT, "services", "Dockerfile"), "utf8");
  const workflow = parse(readFileSync(join(REPO_ROOT, ".github", "workflows", "images.yml"), "utf8")) as {
    jobs: {
      build: { strategy: { matrix: { service: string[] } }; steps: { with?: Record<string, string> }[] };
    };
  };

  it("every service of the model has its own target in services/Dockerfile and in the images workflow", () => {
    const services = loadBlueprint("dev").services.map((s) => s.name);
    const targets = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(targets).toEqual(expect.arrayContaining(services));
    expect(workflow.jobs.build.strategy.matrix.service).toEqual(services);
    const build = workflow.jobs.build.steps.find((s) => s.with?.file);
    expect(build?.with).toMatchObject({ file: "services/Dockerfile", target: "${{ matrix.service }}" });
  });

  it("each service target runs as uid 1000 and starts with node, not npm", () => {
    for (const stage of dockerfile.split(/^FROM /m).filter((s) => /^runtime AS /.test(s))) {
      expect(stage).toMatch(/^USER 1000:1000$/m);
      expect(stage).toMatch(/^CMD \["node", "services\/[a-z-]+\/dist\/main\.js"\]$/m);
    }
  });
});
