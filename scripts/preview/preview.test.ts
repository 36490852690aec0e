import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installFakePulumi, type FakePulumi } from "../pipeline/testing/fake-pulumi.js";
import { createPreview, destroyPreview } from "./preview.js";

// The Pulumi CLI cannot be installed here: the real Automation API runs against the recording stand-in.
let fake: FakePulumi;
beforeEach(() => {
  fake = installFakePulumi();
  fake.setState({
    config: {},
    outputs: { regions: { "eu-west": { liveUrl: "http://pr-5.preview.shop.example.com" } } },
  });
});
afterEach(() => fake.restore());

const main = (cmds: string[][]) =>
  cmds.filter((c) => c[0] !== "version" && !(c[0] === "stack" && c[1] === "history"));

describe("preview stacks (Automation API against the pulumi stand-in)", () => {
  const env = { KUBECONFIG_EU_WEST: "apiVersion: v1\nkind: Config\n" };

  it("when a preview is created, then the stack file is written first and `pulumi up` runs on stack pr-<n>", async () => {
    const out = await createPreview(5, "1.2.0", { workDir: fake.workDir, env });

    expect(existsSync(join(fake.workDir, "Pulumi.pr-5.yaml"))).toBe(true);
    expect(out).toEqual({ stack: "pr-5", urls: ["http://pr-5.preview.shop.example.com"] });
    const cmds = main(fake.commands()).map((c) => c.slice(0, 4).join(" "));
    expect(cmds[0]).toMatch(/^stack (select|init).*pr-5/);
    expect(cmds).toContain("up --yes --skip-preview --exec-kind");
  });

  it("when a preview is created, then the kubeconfig becomes the secret config its region names, before `pulumi up`", async () => {
    await createPreview(5, "1.2.0", { workDir: fake.workDir, env });

    const cmds = main(fake.commands());
    const set = cmds.findIndex((c) => c[0] === "config" && c[1] === "set");
    expect(cmds[set]).toEqual(
      expect.arrayContaining([
        "secrets:kubeconfigEuWest",
        "--stack",
        "pr-5",
        "--secret",
        "--",
        env.KUBECONFIG_EU_WEST,
      ]),
    );
    expect(set).toBeLessThan(cmds.findIndex((c) => c[0] === "up"));
    expect(fake.checkoutConfig()).toMatchObject({
      "secrets:kubeconfigEuWest": env.KUBECONFIG_EU_WEST,
      secretKeys: ["secrets:kubeconfigEuWest"],
    });
  });

  it("when no kubeconfig is given, then nothing runs and the error names the variable and the flag", async () => {
    await expect(createPreview(5, "1.2.0", { workDir: fake.workDir, env: {} })).rejects.toThrow(
      "the preview cluster's kubeconfig is missing: set KUBECONFIG_EU_WEST to its content or pass --kubeconfig <file> (it becomes the secret config secrets:kubeconfigEuWest)",
    );
    expect(main(fake.commands())).toEqual([]);
    expect(existsSync(join(fake.workDir, "Pulumi.pr-5.yaml"))).toBe(false);
  });

  it("when the version is invalid, then no pulumi command runs", async () => {
    await expect(createPreview(5, "bad version", { workDir: fake.workDir, env })).rejects.toThrow(
      /--version must be an image tag/,
    );
    expect(main(fake.commands())).toEqual([]);
  });

  it("when a preview is destroyed, then `pulumi destroy` runs before the stack and its file are removed", async () => {
    await createPreview(6, "1.2.0", { workDir: fake.workDir, env });
    await destroyPreview(6, { workDir: fake.workDir });

    const cmds = main(fake.commands()).map((c) => c.slice(0, 2).join(" "));
    const destroy = cmds.lastIndexOf("destroy --yes");
    expect(destroy).toBeGreaterThan(-1);
    expect(cmds.lastIndexOf("stack rm")).toBeGreaterThan(destroy);
    expect(existsSync(join(fake.workDir, "Pulumi.pr-6.yaml"))).toBe(false);
  });
});
