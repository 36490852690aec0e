import { readFileSync } from "node:fs";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { blueprintStack, type EngineOptions } from "../../infra/engine.js";
import type { Blueprint } from "../../infra/model/index.js";
import {
  previewStackName,
  removePreviewStackFile,
  renderPreviewStack,
  writePreviewStack,
} from "./stack-file.js";
import { ensureCredentials } from "../secrets.js";
import { liveRollout, ROLLOUT_FROM_KEY } from "../pipeline/cloud-target.js";

export interface PreviewOptions {
  workDir?: string;
  log?: (line: string) => void;
  /** Where kubeconfigs come from: KUBECONFIG_<KEY> variables; default process.env. */
  env?: Record<string, string | undefined>;
  /** `--kubeconfig <file>`: the kubeconfig of a preview whose regions use one secret key. */
  kubeconfigFile?: string;
  /** The stack template; default infra/stacks/preview.template.yaml. */
  template?: string;
  /** Backend, passphrase and other environment of the Pulumi CLI (default: the process environment). */
  engine?: Omit<EngineOptions, "workDir">;
}

/** `kubeconfigEuWest` → `KUBECONFIG_EU_WEST`: the variable holding the kubeconfig for that secret config key. */
export const kubeconfigEnvVar = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/**
 * The `secrets:<key>` config every region's `kubeconfig.secretConfigKey` needs, from `--kubeconfig <file>` or
 * KUBECONFIG_<KEY>; throws naming both when one is missing, before any stack changes.
 */
export function kubeconfigSecrets(
  bp: Blueprint,
  opts: Pick<PreviewOptions, "env" | "kubeconfigFile"> = {},
): Record<string, string> {
  const env = opts.env ?? process.env;
  const keys = [
    ...new Set(
      bp.regions.flatMap((r) =>
        r.kubeconfig && "secretConfigKey" in r.kubeconfig ? [r.kubeconfig.secretConfigKey] : [],
      ),
    ),
  ];
  if (opts.kubeconfigFile && keys.length !== 1)
    throw new Error(
      `--kubeconfig fits a preview with one secret kubeconfig key; this one has ${keys.length} (${keys.join(", ")}) — set ${keys.map(kubeconfigEnvVar).join(", ")} instead`,
    );
  const secrets: Record<string, string> = {};
  for (const key of keys) {
    const value = opts.kubeconfigFile
      ? readFileSync(opts.kubeconfigFile, "utf8")
      : env[kubeconfigEnvVar(key)];
    if (!value?.trim())
      throw new Error(
        `the preview cluster's kubeconfig is missing: set ${kubeconfigEnvVar(key)} to its content or pass --kubeconfig <file> (it becomes the secret config secrets:${key})`,
      );
    secrets[`secrets:${key}`] = value;
  }
  return secrets;
}

/** Validates and writes Pulumi.pr-<n>.yaml, then creates (or selects) the stack and runs `pulumi up`. */
export async function createPreview(
  pr: number,
  version: string,
  opts: PreviewOptions = {},
): Promise<{ stack: string; urls: string[] }> {
  const workDir = opts.workDir ?? REPO_ROOT;
  const log = opts.log ?? (() => {});
  const preview = renderPreviewStack(pr, version, {
    root: workDir,
    ...(opts.template ? { template: opts.template } : {}),
  });
  const secrets = kubeconfigSecrets(preview.blueprint, opts);
  writePreviewStack(preview);
  log(
    `✔ ${preview.file} (validated: ${preview.blueprint.regions.length} region, namespace ${preview.blueprint.namespace})`,
  );
  const stack = await blueprintStack(preview.stack, { ...opts.engine, workDir });
  for (const [key, value] of Object.entries(secrets)) await stack.setConfig(key, { value, secret: true });
  await ensureCredentials(stack);
  // A new version of an open PR replaces the deployed one on purpose: record what runs, as the pipeline does, so
  // the program's rollout guard lets the update through.
  const live = liveRollout(await stack.outputs());
  if (live)
    await stack.setConfig(ROLLOUT_FROM_KEY, {
      value: JSON.stringify({ activeColor: live.activeColor, versions: live.versions }),
    });
  const result = await stack.up({ onOutput: (out) => log(out.trimEnd()) });
  const regions = (result.outputs.regions?.value ?? {}) as Record<string, { liveUrl?: string }>;
  const urls = Object.values(regions).flatMap((r) => (r.liveUrl ? [r.liveUrl] : []));
  log(`✔ preview ${preview.stack} is up: ${urls.join(", ") || "(no URL output)"}`);
  return { stack: preview.stack, urls };
}

/** `pulumi destroy`, then removes the stack and its Pulumi.pr-<n>.yaml. */
export async function destroyPreview(pr: number, opts: PreviewOptions = {}): Promise<void> {
  const workDir = opts.workDir ?? REPO_ROOT;
  const log = opts.log ?? (() => {});
  const stackName = previewStackName(pr);
  const stack = await blueprintStack(stackName, { ...opts.engine, workDir, create: false });
  await stack.destroy({ onOutput: (out) => log(out.trimEnd()) });
  await stack.workspace.removeStack(stackName);
  removePreviewStackFile(pr, workDir);
  log(`✔ preview ${stackName} destroyed and removed`);
}
