import { describe, expect, it } from "vitest";
import { readBlueprintConfig } from "./config-read.js";

describe("reading Pulumi config", () => {
  it("when values are JSON strings, then they are parsed; plain strings stay strings; other namespaces are ignored", () => {
    expect(
      readBlueprintConfig({
        "blueprint:environment": "dev",
        "blueprint:regions": '[{"name":"eu-west"}]',
        "blueprint:namespace": "shop",
        "aws:region": "eu-west-1",
        "secrets:kubeconfigEuWest": "apiVersion: v1",
      }),
    ).toEqual({ environment: "dev", regions: [{ name: "eu-west" }], namespace: "shop" });
  });
});
