import { copyFileSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { createPreview } from "./preview.js";

// What fails before any stack exists. Creating and destroying previews for real (the real CLI, two pull requests at
// once on one control plane) is the cluster rehearsal's (scripts/cluster, cluster.e2e.test.ts).
const checkout = () => {
  const dir = mkdtempSync(join(tmpdir(), "preview-"));
  copyFileSync(join(REPO_ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  return dir;
};

describe("preview stacks: refused before anything runs", () => {
  it("when no kubeconfig is given, then the error names the variable and the flag, and no stack file is written", async () => {
    const workDir = checkout();
    await expect(createPreview(5, "1.2.0", { workDir, env: {} })).rejects.toThrow(
      "the preview cluster's kubeconfig is missing: set KUBECONFIG_EU_WEST to its content or pass --kubeconfig <file> (it becomes the secret config secrets:kubeconfigEuWest)",
    );
    expect(existsSync(join(workDir, "Pulumi.pr-5.yaml"))).toBe(false);
  });

  it("when the version is invalid, then it fails naming the flag and writes nothing", async () => {
    const workDir = checkout();
    const env = { KUBECONFIG_EU_WEST: "apiVersion: v1\nkind: Config\n" };
    await expect(createPreview(5, "bad version", { workDir, env })).rejects.toThrow(
      /--version must be an image tag/,
    );
    expect(readdirSync(workDir)).toEqual(["Pulumi.yaml"]);
  });
});
