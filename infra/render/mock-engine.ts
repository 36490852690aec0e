import * as pulumi from "@pulumi/pulumi";
import { CREDENTIAL_CONFIG_KEYS, type Blueprint } from "../model/index.js";
import { createBlueprint, type BlueprintOutputs } from "../program.js";

/** A resource as the Pulumi engine would receive it. */
export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
  /** Provider reference the engine received (`<urn>::<id>`), if any. */
  provider: string | undefined;
  /** Region the resource belongs to (by its provider or name); undefined for stack-wide resources (DNS). */
  region: string | undefined;
}

export interface MockRun {
  resources: RecordedResource[];
  outputs: BlueprintOutputs;
}

/** Plaintext every generated password takes under the mock engine, so tests can search for leaks. */
export const MOCK_SECRET_PREFIX = "MOCK-SECRET-";

/** Gateway address the mock engine reports for a region: TEST-NET-3 (RFC 5737), never routable. */
export function mockGatewayAddress(index: number): string {
  return `203.0.113.${10 + index}`;
}

function regionOf(bp: Blueprint, name: string, provider: string | undefined): string | undefined {
  const byProvider = provider?.split("::")[3]?.replace(/^k8s-/, "");
  if (byProvider && bp.regions.some((r) => r.name === byProvider)) return byProvider;
  const matches = bp.regions.filter(
    (r) => name === r.name || name.startsWith(`${r.name}-`) || name === `k8s-${r.name}`,
  );
  return matches.sort((a, b) => b.name.length - a.name.length)[0]?.name;
}

/**
 * The test double for the Pulumi engine: runs `createBlueprint` under `pulumi.runtime.setMocks`, records every
 * registered resource with its resolved inputs, and answers the few reads the program makes (zones, stack
 * references, the Gateway's status address, generated passwords).
 */
export async function runUnderMockEngine(bp: Blueprint): Promise<MockRun> {
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          custom: args.custom ?? true,
          provider: args.provider,
          region: regionOf(bp, args.name, args.provider),
        });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi:pulumi:StackReference") {
          const names = bp.regions.flatMap((r) =>
            r.kubeconfig &&
            "stackReference" in r.kubeconfig &&
            r.kubeconfig.stackReference === args.inputs.name
              ? [r.kubeconfig.output]
              : [],
          );
          state.outputs = Object.fromEntries(names.map((n) => [n, `mock kubeconfig ${n}`]));
          state.secretOutputNames = names;
        }
        if (args.type === "kubernetes:gateway.networking.k8s.io/v1:Gateway") {
          const region = bp.regions.find((r) => r.name === regionOf(bp, args.name, args.provider));
          state.status = {
            addresses: [{ type: "IPAddress", value: mockGatewayAddress(region?.index ?? 0) }],
          };
        }
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        if (args.token === "aws:route53/getZone:getZone")
          return { zoneId: "ZMOCKZONE", id: "ZMOCKZONE", name: args.inputs.name };
        if (args.token === "cloudflare:index/getZone:getZone")
          return { id: "mock-zone-id", account: { id: "mock-account-id", name: "mock" } };
        return args.inputs;
      },
    },
    "blueprint",
    bp.stack,
    false,
  );
  // Placeholder credentials: the mock engine never sends them anywhere.
  for (const key of CREDENTIAL_CONFIG_KEYS) pulumi.runtime.setConfig(key, `${MOCK_SECRET_PREFIX}${key}`);
  for (const region of bp.regions) {
    const source = region.kubeconfig;
    if (source && "secretConfigKey" in source) {
      pulumi.runtime.setConfig(`secrets:${source.secretConfigKey}`, `mock kubeconfig for ${region.name}`);
    }
  }
  // The SDK records a stack trace for every internal promise; at full depth that is over half the run time.
  const depth = Error.stackTraceLimit;
  Error.stackTraceLimit = 2;
  try {
    const outputs = createBlueprint(bp);
    await settle(outputs, resources);
    return { resources, outputs };
  } finally {
    Error.stackTraceLimit = depth;
  }
}

/** Waits for the outputs, then until no registration has arrived for a few ticks (bounded). */
async function settle(outputs: BlueprintOutputs, resources: RecordedResource[]): Promise<void> {
  const all = pulumi.output(outputs as unknown as Record<string, unknown>);
  await new Promise<void>((resolve) => all.apply(() => resolve()));
  let stable = 0;
  let seen = resources.length;
  for (let i = 0; i < 500 && stable < 3; i++) {
    await new Promise((r) => setTimeout(r, 2));
    stable = resources.length === seen ? stable + 1 : 0;
    seen = resources.length;
  }
}
