import {
  LocalWorkspace,
  PulumiCommand,
  type LocalWorkspaceOptions,
  type Stack,
} from "@pulumi/pulumi/automation/index.js";
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { PROJECT, REPO_ROOT } from "./config/stack-file.js";
import { blueprintProgram } from "./program.js";

/** Where scripts/setup/setup.sh puts the Pulumi CLI and the Kubernetes provider it builds. */
export const TOOLS_ROOT = join(REPO_ROOT, ".cache", "tools");

export interface EngineOptions {
  /** Directory with Pulumi.yaml and the Pulumi.<stack>.yaml files; default the repository root. */
  workDir?: string;
  /**
   * Extra environment for every CLI command: PULUMI_BACKEND_URL (e.g. file:///path), PULUMI_CONFIG_PASSPHRASE,
   * KUBECONFIG. Unset keys fall back to the process environment, as with the plain CLI.
   */
  env?: Record<string, string>;
}

/**
 * The Pulumi CLI: the one setup.sh built (with the Kubernetes provider beside it, which the engine finds on PATH), or
 * else the `pulumi` on PATH. No Node language host is needed: the program runs inline, in this process.
 */
export async function pulumiCommand(): Promise<PulumiCommand> {
  if (existsSync(join(TOOLS_ROOT, "bin", "pulumi"))) return PulumiCommand.get({ root: TOOLS_ROOT });
  return PulumiCommand.get();
}

/** The workspace options every blueprint stack uses: the CLI above, the tools dir first on PATH, no update check. */
export async function workspaceOptions(opts: EngineOptions = {}): Promise<LocalWorkspaceOptions> {
  const env: Record<string, string> = {
    PATH: [join(TOOLS_ROOT, "bin"), process.env.PATH ?? ""].join(delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...opts.env,
  };
  if (env.PULUMI_HOME) mkdirSync(env.PULUMI_HOME, { recursive: true });
  return { workDir: opts.workDir ?? REPO_ROOT, pulumiCommand: await pulumiCommand(), envVars: env };
}

/**
 * A stack of this project whose program is `blueprintProgram` (the one `infra/index.ts` runs), as an Automation API
 * inline program: its config comes from `<workDir>/Pulumi.<stack>.yaml` exactly as for `pulumi up`.
 */
export async function blueprintStack(
  stackName: string,
  opts: EngineOptions & { create?: boolean } = {},
): Promise<Stack> {
  const kubeconfig = opts.env?.KUBECONFIG;
  const program = async () => {
    // The program runs in this process and reads the primary region's Secrets itself (cluster-read.ts): it sees
    // the KUBECONFIG the engine's providers get.
    if (kubeconfig) process.env.KUBECONFIG = kubeconfig;
    return blueprintProgram();
  };
  const args = { stackName, projectName: PROJECT, program };
  const ws = await workspaceOptions(opts);
  return opts.create === false
    ? LocalWorkspace.selectStack(args, ws)
    : LocalWorkspace.createOrSelectStack(args, ws);
}
