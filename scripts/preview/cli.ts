// `npm run preview:create -- --pr 42 --version 1.2.0 [--kubeconfig <file>]` (or KUBECONFIG_EU_WEST) and
// `npm run preview:destroy -- --pr 42`. `--template <file>` and `--work-dir <dir>` replace the shipped template and
// the repository root (where Pulumi.pr-<n>.yaml is written). The backend and passphrase come from the environment
// (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or a `pulumi login`), as for the CLI.
import { parseArgs } from "node:util";
import { createPreview, destroyPreview } from "./preview.js";
import { checkPreviewArgs } from "./stack-file.js";
import { explainPulumiError } from "../pipeline/cloud-target.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    pr: { type: "string" },
    version: { type: "string" },
    kubeconfig: { type: "string" },
    template: { type: "string" },
    "work-dir": { type: "string" },
  },
});
const log = (line: string) => process.stdout.write(`${line}\n`);

try {
  const command = positionals[0];
  if (command === "create") {
    if (!values.version)
      throw new Error("--version is required: the image tag to preview, e.g. --version sha-1a2b3c");
    await createPreview(checkPreviewArgs(values.pr, values.version), values.version, {
      log,
      ...(values.kubeconfig ? { kubeconfigFile: values.kubeconfig } : {}),
      ...(values.template ? { template: values.template } : {}),
      ...(values["work-dir"] ? { workDir: values["work-dir"] } : {}),
    });
  } else if (command === "destroy") {
    await destroyPreview(checkPreviewArgs(values.pr), {
      log,
      ...(values["work-dir"] ? { workDir: values["work-dir"] } : {}),
    });
  } else {
    throw new Error(
      "usage: tsx scripts/preview/cli.ts create --pr <n> --version <tag> [--kubeconfig <file>] [--template <file>] [--work-dir <dir>] | destroy --pr <n> [--work-dir <dir>]",
    );
  }
} catch (err) {
  process.stderr.write(`✖ ${explainPulumiError(err)}\n`);
  process.exit(1);
}
