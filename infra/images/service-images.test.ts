import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";

// Under the mock engine (a test double for Pulumi's engine and the docker-build provider, whose plugin cannot be
// downloaded here): what the component asks BuildKit for. The build itself runs only where the provider is served.

const digestOf = (name: string) => `sha256:${Buffer.from(name).toString("hex").padEnd(64, "0").slice(0, 64)}`;

async function recordingMocks(): Promise<Map<string, Record<string, unknown>>> {
  const created = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.set(`${args.type}::${args.name}`, args.inputs as Record<string, unknown>);
        const digest = digestOf(args.name);
        const tags = (args.inputs.tags as string[] | undefined) ?? [];
        return { id: `${args.name}-id`, state: { ...args.inputs, digest, ref: `${tags[0]}@${digest}` } };
      },
      call: (args) => args.inputs,
    },
    "blueprint-images",
    "ci",
    false,
  );
  return created;
}

const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("the images stack", () => {
  it("every service is built from its target of services/Dockerfile, pushed with each tag and a registry cache, and its digest exported", async () => {
    const created = await recordingMocks();
    const { ServiceImages } = await import("./service-images.js");
    const images = new ServiceImages("services", {
      registry: "ghcr.io/acme",
      services: ["gateway", "catalog"],
      tags: ["sha-0123456789ab", "1.2.0"],
    });
    const digests = await output(images.digests);
    const catalog = created.get("docker-build:index:Image::services-catalog")!;
    expect(catalog).toMatchObject({
      target: "catalog",
      push: true,
      platforms: ["linux/amd64", "linux/arm64"],
      tags: ["ghcr.io/acme/blueprint-catalog:sha-0123456789ab", "ghcr.io/acme/blueprint-catalog:1.2.0"],
      cacheFrom: [{ registry: { ref: "ghcr.io/acme/blueprint-catalog:buildcache" } }],
      cacheTo: [{ registry: { ref: "ghcr.io/acme/blueprint-catalog:buildcache", mode: "max" } }],
    });
    expect((catalog.dockerfile as { location: string }).location).toMatch(/\/services\/Dockerfile$/);
    expect(digests).toEqual({ gateway: digestOf("services-gateway"), catalog: digestOf("services-catalog") });
    expect(Object.values(digests).every((d) => /^sha256:[a-f0-9]{64}$/.test(d))).toBe(true);
  });

  it("when no tag is given, then it throws naming the field", async () => {
    await recordingMocks();
    const { ServiceImages } = await import("./service-images.js");
    expect(
      () => new ServiceImages("none", { registry: "ghcr.io/acme", services: ["gateway"], tags: [] }),
    ).toThrow("ServiceImages: tags is empty — give at least one tag to push");
  });
});
