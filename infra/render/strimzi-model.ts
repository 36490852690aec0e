import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { K8sObject } from "../components/meta.js";
import { REPO_ROOT } from "../config/stack-file.js";

const LIBS = join(REPO_ROOT, ".cache", "upstream", "strimzi");
const PROGRAM = join(REPO_ROOT, "scripts", "setup", "strimzi", "StrimziModel.java");

export const STRIMZI_GROUP = "kafka.strimzi.io";
export const STRIMZI_SOURCE = "Strimzi's API model (io.strimzi:api, strict parse)";

/**
 * Parses every Strimzi object with Strimzi's own API model (the Jackson classes its operator reads them with), in one
 * JVM: wrong types, enums and polymorphic `type`s fail to parse, and an unknown or missing required property is an
 * error (the operator would only log the former). Returns the errors of each Strimzi object; throws when setup
 * has not fetched the model.
 */
export function validateWithStrimziModel(objects: K8sObject[]): Map<K8sObject, string[]> {
  const strimzi = objects.filter((o) => o.apiVersion.startsWith(`${STRIMZI_GROUP}/`));
  const out = new Map<K8sObject, string[]>();
  if (strimzi.length === 0) return out;
  if (!existsSync(LIBS)) throw new Error(`Strimzi's API model is not in ${LIBS}: run 'npm run setup'`);
  const dir = mkdtempSync(join(tmpdir(), "strimzi-model-"));
  try {
    const file = join(dir, "objects.json");
    writeFileSync(file, JSON.stringify(strimzi));
    const stdout = execFileSync("java", ["-cp", `${LIBS}/*`, PROGRAM, "validate", file], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 16 * 1024 * 1024,
    });
    // One result per object, in order.
    (JSON.parse(stdout) as { errors: string[] }[]).forEach((r, i) => out.set(strimzi[i]!, r.errors));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
