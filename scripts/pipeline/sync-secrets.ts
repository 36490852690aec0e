// `npm run stack:sync-secrets -- --stack prod`: copies the primary region's operator-made Secrets (Strimzi's
// cluster CA, Percona's TLS Secrets) to the other regions again, with a `pulumi up` that targets only the copies and
// keeps the deployed rollout. .github/workflows/sync-secrets.yml runs it weekly per stack, well inside the operators'
// renewal windows (infra/README.md, "Certificates and copied CAs").
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import { CloudTarget, runMain } from "./cloud-target.js";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { stack: { type: "string" } } });
  if (!values.stack) {
    process.stderr.write("usage: npm run stack:sync-secrets -- --stack <name>\n");
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const target = await CloudTarget.select(values.stack, {
    blueprint: loadBlueprint(values.stack),
    reportDir: join(REPO_ROOT, "reports", `sync-secrets-${Date.now()}`),
    log,
  });
  const urns = await target.syncSecrets();
  log(urns.length > 0 ? `✔ ${urns.length} replicated Secrets in sync` : "✔ one region: nothing to replicate");
  return 0;
}

runMain(import.meta.url, main);
