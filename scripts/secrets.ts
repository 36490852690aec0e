// `npm run stack:secrets -- --stack <name>`: generates every credential the stack lacks (CREDENTIAL_CONFIG_KEYS) as
// secret config, so a cluster stack needs no provider (such as @pulumi/random) to make them. Existing values are
// kept: running it again changes nothing, and a rotated password is set with `pulumi config set --secret`.
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { blueprintStack } from "../infra/engine.js";
import { CREDENTIAL_CONFIG_KEYS } from "../infra/model/index.js";

/** 32 characters of [A-Za-z0-9]: safe in a MongoDB URI and on a redis-server command line without escaping. */
export function generatePassword(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 62 × 4 = 248 < 256: bytes at or above 248 are dropped so every character is equally likely.
  let out = "";
  while (out.length < 32) {
    for (const byte of randomBytes(48)) if (byte < 248 && out.length < 32) out += alphabet[byte % 62];
  }
  return out;
}

/** Sets each missing credential of the stack as a generated secret; returns the keys it set. */
export async function ensureCredentials(stack: Pick<Stack, "getAllConfig" | "setConfig">): Promise<string[]> {
  const present = await stack.getAllConfig();
  const missing = CREDENTIAL_CONFIG_KEYS.filter((key) => !present[key]);
  for (const key of missing) await stack.setConfig(key, { value: generatePassword(), secret: true });
  return missing;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { stack: { type: "string" } } });
  if (!values.stack) {
    process.stderr.write("usage: npm run stack:secrets -- --stack <name>\n");
    return 2;
  }
  const set = await ensureCredentials(await blueprintStack(values.stack, { create: false }));
  process.stdout.write(
    set.length > 0
      ? `✔ ${values.stack}: generated ${set.join(", ")}\n`
      : `✔ ${values.stack}: every credential is already set\n`,
  );
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`✖ ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
