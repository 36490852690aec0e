import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseBlueprint, type Blueprint } from "../model/index.js";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");

/** The project name from `Pulumi.yaml`: the namespace of the stacks' config keys (`<project>:regions`). */
export function projectName(root = REPO_ROOT): string {
  const name = (parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || !name)
    throw new Error(`${join(root, "Pulumi.yaml")} has no project name — set name: <project>`);
  return name;
}

export const PROJECT = projectName();

/** The `blueprint:*` keys of `Pulumi.<stack>.yaml`, prefix removed; other namespaces (secrets:, aws:) ignored. */
export function readStackConfig(stack: string, root = REPO_ROOT): Record<string, unknown> {
  const file = join(root, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`stack "${stack}" has no config file ${file} — create it (see Pulumi.yaml for the keys)`);
  }
  const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
  return stripProject(doc.config ?? {});
}

export function stripProject(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`)) out[key.slice(PROJECT.length + 1)] = value;
  }
  return out;
}

/** Reads and validates a stack's blueprint outside Pulumi (local environment, k6, pipeline, render). */
export function loadBlueprint(stack: string, root = REPO_ROOT): Blueprint {
  return parseBlueprint(readStackConfig(stack, root), stack);
}
