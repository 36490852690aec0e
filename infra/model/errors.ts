import type { z } from "zod";

/** One problem in a stack config: where (a config path such as `blueprint:regions[1].name`) and what to do. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Thrown before any resource is created when the stack config cannot describe a valid blueprint. */
export class BlueprintConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(stack: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super(
      `Invalid blueprint config for stack "${stack}" (${problems.length} problem(s)):\n${lines.join("\n")}`,
    );
    this.name = "BlueprintConfigError";
    this.problems = problems;
  }
}

/** `["regions", 1, "name"]` → `blueprint:regions[1].name`. */
export function configPath(path: readonly PropertyKey[]): string {
  let out = "blueprint";
  path.forEach((key, i) => {
    if (typeof key === "number") out += `[${key}]`;
    else out += i === 0 ? `:${String(key)}` : `.${String(key)}`;
  });
  return out;
}

export function describeZodIssue(issue: z.core.$ZodIssue, input: unknown): ConfigProblem {
  const path = configPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return {
        path,
        message: `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} — remove or fix the spelling (every key is documented in Pulumi.yaml)`,
      };
    case "invalid_type":
      if (valueAt(input, issue.path) === undefined)
        return { path, message: `is required — set it in the stack config` };
      return { path, message: `expected ${issue.expected}, got ${typeName(valueAt(input, issue.path))}` };
    case "invalid_union":
      if (issue.path.at(-1) === "kubeconfig")
        return {
          path,
          message: "must be one of {secretConfigKey}, {stackReference, output} or {context}",
        };
      return { path, message: issue.message };
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const got = valueAt(input, issue.path);
      if (issue.origin === "array") return { path, message: issue.message.replace(/^Too \w+: /, "") };
      const op = issue.code === "too_small" ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
      return { path, message: `must be ${op} ${String(bound)} (got ${JSON.stringify(got)})` };
    }
    default:
      return { path, message: issue.message };
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
