// `npm run stack:secrets -- --stack <name>`: sets every credential the stack lacks (CREDENTIAL_CONFIG_KEYS) as
// secret config (the deployed stack's own value when it has one, else a generated one), so a cluster stack needs no
// provider (such as @pulumi/random). Set values are kept: running it again changes nothing; rotate a password with
// `pulumi config set --secret`.
import type { OutputMap, Stack } from "@pulumi/pulumi/automation/index.js";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { blueprintStack } from "../infra/engine.js";
import { CREDENTIAL_CONFIG_KEYS, CREDENTIAL_KEYS } from "../infra/model/index.js";

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

/**
 * The credentials a deployed stack already uses, from its secret `credentials` output, by config key: a checkout
 * without them (a preview's stack file is rewritten on every push, a CI checkout is fresh) must not rotate them.
 */
export function deployedCredentials(outputs: OutputMap): Record<string, string> {
  const creds = outputs.credentials?.value as
    { mongo?: Record<string, string>; redis?: Record<string, string> } | undefined;
  const out: Record<string, string> = {};
  for (const [user, key] of Object.entries(CREDENTIAL_KEYS.mongo)) {
    const value = creds?.mongo?.[user];
    if (value) out[`secrets:${key}`] = value;
  }
  const redis = Object.values(creds?.redis ?? {}).find(Boolean);
  if (redis) out[`secrets:${CREDENTIAL_KEYS.redis}`] = redis;
  return out;
}

/**
 * Sets each credential the stack's config lacks: the value the deployed stack already uses, or a generated one for
 * a stack never deployed. Returns the keys it set.
 */
export async function ensureCredentials(
  stack: Pick<Stack, "getAllConfig" | "setConfig" | "outputs">,
): Promise<string[]> {
  const present = await stack.getAllConfig();
  const missing = CREDENTIAL_CONFIG_KEYS.filter((key) => !present[key]);
  const deployed = missing.length > 0 ? deployedCredentials(await stack.outputs()) : {};
  for (const key of missing)
    await stack.setConfig(key, { value: deployed[key] ?? generatePassword(), secret: true });
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
