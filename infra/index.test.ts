import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";

// The stack entry under the mock engine (the test double for Pulumi's engine), with config as Pulumi passes it.

/** The mock engine, recording every resource it is asked to create. */
async function recordingMocks(): Promise<string[]> {
  const created: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push(`${args.type}::${args.name}`);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "blueprint",
    "dev",
    false,
  );
  return created;
}

describe("the stack entry", () => {
  it("when the config is invalid, then it fails with the key and the fix and creates no resource", async () => {
    const created = await recordingMocks();
    // Structured values arrive as JSON strings, plain strings as themselves.
    pulumi.runtime.setAllConfig({
      "blueprint:environment": "dev",
      "blueprint:regions": JSON.stringify([{ name: "eu-west", kubeconfig: { context: "eu" } }]),
      "blueprint:edge": JSON.stringify({ hostname: "dev.shop.example.com" }),
      "blueprint:rollout": JSON.stringify({ activeColor: "green", versions: { blue: "1.0.0" } }),
      "blueprint:dns": JSON.stringify({
        provider: "route53",
        zone: "shop.example.com",
        healthCheck: { intervalSeconds: 15 },
      }),
      "aws:region": "eu-west-1",
    });
    await expect(import("./index.js")).rejects.toThrow(
      [
        'Invalid blueprint config for stack "dev" (2 problem(s)):',
        '  - blueprint:rollout.versions.green: the active color "green" has no version — set rollout.versions.green to the image tag to serve',
        "  - blueprint:dns.healthCheck.intervalSeconds: Route53 health checks run every 10 or 30 seconds (got 15) — use 10 or 30",
      ].join("\n"),
    );
    expect(created).toEqual([]);
  });

  it("when a credential is missing, then it fails naming the keys and the command that makes them, and creates no resource", async () => {
    const created = await recordingMocks();
    pulumi.runtime.setAllConfig({
      "blueprint:environment": "dev",
      "blueprint:regions": JSON.stringify([{ name: "eu-west", kubeconfig: { context: "eu" } }]),
      "blueprint:edge": JSON.stringify({ hostname: "dev.shop.example.com" }),
      "blueprint:rollout": JSON.stringify({ versions: { blue: "1.0.0" } }),
      "blueprint:dns": JSON.stringify({ provider: "external", zone: "shop.example.com" }),
      "secrets:mongoBackupPassword": "set",
    });
    const { loadStack } = await import("./program.js");
    expect(() => loadStack()).toThrow(
      'stack "dev" lacks its credentials (secrets:mongoDatabaseAdminPassword, secrets:mongoClusterAdminPassword, secrets:mongoClusterMonitorPassword, secrets:mongoUserAdminPassword, secrets:mongoAppPassword, secrets:redisPassword) — run `npm run stack:secrets -- --stack dev`, which generates each missing one as secret config',
    );
    expect(created).toEqual([]);
  });
});
