import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import { blueprintStack, type EngineOptions } from "../../infra/engine.js";
import { ensureCredentials } from "../secrets.js";
import { CloudTarget } from "./cloud-target.js";

// The real Pulumi CLI (built by setup.sh) and engine, a file backend, the blueprint program inline: what the cloud
// target does before any cluster is reached. Against real clusters it runs in the cluster rehearsal (scripts/cluster).
function checkout(): EngineOptions {
  const dir = mkdtempSync(join(tmpdir(), "cloud-target-"));
  for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml"]) copyFileSync(join(REPO_ROOT, f), join(dir, f));
  // The CLI checks that the project's `main` (infra/) exists, even for an inline program.
  mkdirSync(join(dir, "infra"));
  return {
    workDir: dir,
    env: {
      PULUMI_BACKEND_URL: `file://${dir}`,
      PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
      PULUMI_HOME: join(dir, ".pulumi"),
    },
  };
}

const resourcesOf = async (engine: EngineOptions) => {
  const stack = await blueprintStack("dev", { ...engine, create: false });
  const state = (await stack.exportStack()).deployment as { resources?: { type: string }[] };
  return (state.resources ?? []).map((r) => r.type);
};

describe("cloud target with the real Pulumi CLI", () => {
  it("when the stack does not exist, then selecting it fails naming the stack", async () => {
    const engine = checkout();
    await expect(
      CloudTarget.select("dev", { blueprint: loadBlueprint("dev"), reportDir: "/tmp" }, engine),
    ).rejects.toThrow(/no stack named 'dev' found/);
  });

  it("when a deploy writes a rollout the model refuses, then `pulumi up` fails before any resource, naming the key and the fix without a stack trace", async () => {
    const engine = checkout();
    await ensureCredentials(await blueprintStack("dev", engine));
    const target = await CloudTarget.select(
      "dev",
      { blueprint: loadBlueprint("dev"), reportDir: "/tmp" },
      engine,
    );

    const err = await target
      .deploy("green", "1.1.0", {
        activeColor: "green",
        versions: { blue: "1.0.0" },
        rollbackWindowSeconds: 60,
      })
      .catch((e: unknown) => e as Error);

    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(
      'blueprint:rollout.versions.green: the active color "green" has no version — set rollout.versions.green to the image tag to serve',
    );
    expect(err!.message).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
    // The rollout went into the checkout's stack file as a YAML map (structured config), not a JSON string.
    const file = parse(readFileSync(join(engine.workDir!, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    expect(file.config["blueprint:rollout"]).toEqual({
      activeColor: "green",
      versions: { blue: "1.0.0" },
      rollbackWindowSeconds: 60,
    });
    expect((await resourcesOf(engine)).filter((t) => t !== "pulumi:pulumi:Stack")).toEqual([]);
  }, 120_000);

  it("when the stack lacks its credentials, then `pulumi up` fails naming them and the command that makes them", async () => {
    const engine = checkout();
    const stack = await blueprintStack("dev", engine);

    const err = (await stack.up().catch((e: unknown) => e)) as Error;

    expect(err!.message).toContain(
      'stack "dev" lacks its credentials (secrets:mongoBackupPassword, secrets:mongoDatabaseAdminPassword',
    );
    expect(err!.message).toContain("run `npm run stack:secrets -- --stack dev`");
    expect((await resourcesOf(engine)).filter((t) => t !== "pulumi:pulumi:Stack")).toEqual([]);
  }, 120_000);
});
