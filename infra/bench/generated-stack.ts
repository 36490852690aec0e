import { parseBlueprint, type Blueprint } from "../model/index.js";

/** A large stack built from the model schema in memory: `regions` clusters, `services` services each. */
export function generatedBlueprint(regions: number, services: number): Blueprint {
  const pad = (n: number) => String(n).padStart(2, "0");
  const names = Array.from({ length: services }, (_, i) => `svc-${pad(i + 1)}`);
  return parseBlueprint(
    {
      environment: "prod",
      regions: Array.from({ length: regions }, (_, i) => ({
        name: `r${pad(i + 1)}`,
        primary: i === 0,
        cloudRegion: `eu-west-${(i % 9) + 1}`,
        podCidr: `10.${i + 1}.0.0/16`,
        kubeconfig: { context: `r${pad(i + 1)}` },
      })),
      services: names.map((name, i) => ({
        name,
        image: `ghcr.io/example/${name}`,
        port: 9000 + i,
        replicas: { min: 3, max: 12 },
        // A chain of calls plus every data store: the NetworkPolicy paths grow with the services.
        dependsOn: ["redis", "mongo", "kafka", ...(i + 1 < services ? [names[i + 1]!] : [])],
      })),
      edge: {
        hostname: "big.example.com",
        routes: [
          ...names.map((n) => ({ path: `/api/${n}`, service: n })),
          { path: "/readyz", match: "exact", service: names[0] },
        ],
      },
      rollout: { activeColor: "blue", versions: { blue: "1.0.0", green: "1.1.0" } },
      dns: {
        provider: "cloudflare",
        zone: "example.com",
        healthCheck: { intervalSeconds: 15, failureThreshold: 2 },
      },
    },
    "bench-10x20",
  );
}
