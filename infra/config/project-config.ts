import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT, REPO_ROOT } from "./stack-file.js";

/** Stack config files: every `Pulumi.<stack>.yaml` at the root and the preview template. */
export function stackConfigFiles(root = REPO_ROOT): string[] {
  const stacks = readdirSync(root)
    .filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f))
    .map((f) => join(root, f));
  return [...stacks.sort(), join(root, "infra", "stacks", "preview.template.yaml")];
}

/**
 * Keys declared in `Pulumi.yaml` `config:` without `default` or `value` that a stack file does not set.
 * The Pulumi CLI refuses such a stack ("Stack 'x' is missing configuration values"), so this must be empty.
 */
export function missingRequiredKeys(projectYaml: string, stackYaml: string): string[] {
  const project = (parse(projectYaml) ?? {}) as { config?: Record<string, unknown> };
  const stack = (parse(stackYaml) ?? {}) as { config?: Record<string, unknown> };
  const set = new Set(Object.keys(stack.config ?? {}));
  return Object.entries(project.config ?? {})
    .filter(([, decl]) => {
      const d = (decl ?? {}) as Record<string, unknown>;
      return !(typeof decl !== "object" || "default" in d || "value" in d);
    })
    .map(([key]) => (key.includes(":") ? key : `${PROJECT}:${key}`))
    .filter((key) => !set.has(key));
}

export function readProjectYaml(root = REPO_ROOT): string {
  return readFileSync(join(root, "Pulumi.yaml"), "utf8");
}
