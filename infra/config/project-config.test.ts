import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { missingRequiredKeys, readProjectYaml, stackConfigFiles } from "./project-config.js";

// The check the Pulumi CLI makes before running the program: a key declared in Pulumi.yaml without a default
// must be set by the stack.

describe("Pulumi.yaml project config", () => {
  const project = readProjectYaml();
  const files = stackConfigFiles();

  it("when any stack file or the preview template is read, then it sets every key Pulumi.yaml declares", () => {
    expect(files.map((f) => basename(f))).toEqual(
      expect.arrayContaining(["Pulumi.dev.yaml", "Pulumi.prod.yaml", "preview.template.yaml"]),
    );
    for (const file of files) {
      expect(missingRequiredKeys(project, readFileSync(file, "utf8")), file).toEqual([]);
    }
  });

  it("when a declared key has no default and a stack lacks it, then it is reported with its namespace", () => {
    const projectYaml = "config:\n  environment:\n    description: x\n  namespace:\n    default: ns\n";
    expect(missingRequiredKeys(projectYaml, "config:\n  blueprint:regions: []\n")).toEqual([
      "blueprint:environment",
    ]);
    expect(missingRequiredKeys(projectYaml, "config:\n  blueprint:environment: dev\n")).toEqual([]);
  });
});
