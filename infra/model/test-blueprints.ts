import { parseBlueprint, type Blueprint } from "./blueprint.js";

/** Test fixture: the raw stack config of a blueprint over eu-west, us-east, ap-southeast (the first `regions`). */
export function rawTestBlueprint(opts: {
  regions: number;
  primary?: number;
  environment?: "dev" | "staging" | "prod";
}): Record<string, unknown> {
  const names = ["eu-west", "us-east", "ap-southeast"].slice(0, opts.regions);
  return {
    environment: opts.environment ?? "prod",
    regions: names.map((name, i) => ({
      name,
      primary: i === (opts.primary ?? 0),
      cloudRegion: `${name}-1`,
      podCidr: `10.${i + 1}.0.0/16`,
      kubeconfig: { context: name },
    })),
    edge: { hostname: "shop.example.com" },
    rollout: { activeColor: "blue", versions: { blue: "1.0.0" } },
    dns: { provider: "route53", zone: "example.com" },
  };
}

/** Test fixture: rawTestBlueprint with `overrides` on top, parsed. */
export function testBlueprint(
  opts: Parameters<typeof rawTestBlueprint>[0],
  overrides: Record<string, unknown> = {},
  stack = "test",
): Blueprint {
  return parseBlueprint({ ...rawTestBlueprint(opts), ...overrides }, stack);
}
