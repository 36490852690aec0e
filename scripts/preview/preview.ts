import { LocalWorkspace } from "@pulumi/pulumi/automation/index.js";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import {
  previewStackName,
  removePreviewStackFile,
  renderPreviewStack,
  writePreviewStack,
} from "./stack-file.js";

export interface PreviewOptions {
  workDir?: string;
  log?: (line: string) => void;
}

/** Validates and writes Pulumi.pr-<n>.yaml, then creates (or selects) the stack and runs `pulumi up`. */
export async function createPreview(
  pr: number,
  version: string,
  opts: PreviewOptions = {},
): Promise<{ stack: string; urls: string[] }> {
  const workDir = opts.workDir ?? REPO_ROOT;
  const log = opts.log ?? (() => {});
  const preview = renderPreviewStack(pr, version, { root: workDir });
  writePreviewStack(preview);
  log(
    `✔ ${preview.file} (validated: ${preview.blueprint.regions.length} region, namespace ${preview.blueprint.namespace})`,
  );
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: preview.stack, workDir });
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
  const stack = await LocalWorkspace.selectStack({ stackName, workDir });
  await stack.destroy({ onOutput: (out) => log(out.trimEnd()) });
  await stack.workspace.removeStack(stackName);
  removePreviewStackFile(pr, workDir);
  log(`✔ preview ${stackName} destroyed and removed`);
}
