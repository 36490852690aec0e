import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { COLORS } from "../../infra/model/index.js";
import { createServer } from "node:net";
import { assertPortsFree, localPorts } from "./ports.js";

const bp = loadBlueprint("local");

describe("local ports", () => {
  it("when the base port is 18000, then the edge listens on 18080 and DNS on 18053", () => {
    const ports = localPorts(bp, 18000);
    expect(ports.edge).toBe(18080);
    expect(ports.dns).toBe(18053);
  });

  it("every service, color and region gets its own port, none equal to a data-tier, edge or DNS port", () => {
    const ports = localPorts(bp, 18000);
    const servicePorts = bp.regions.flatMap((r) =>
      COLORS.flatMap((c) => bp.services.map((s) => ports.service(s.name, c, r.name))),
    );
    expect(new Set(servicePorts).size).toBe(bp.regions.length * COLORS.length * bp.services.length);
    const fixed = [
      ports.edge,
      ports.dns,
      ports.redis,
      ports.kafka,
      ports.kafkaPeer,
      ports.mongo,
      ports.postgres,
    ];
    expect(new Set(fixed).size).toBe(fixed.length);
    expect(servicePorts.filter((p) => fixed.includes(p))).toEqual([]);
    expect(ports.service("gateway", "blue", "region-a")).toBe(19080);
    expect(ports.service("gateway", "green", "region-b")).toBe(19680);
  });

  it("when two services end in the same two port digits, then the error names both and the key to change", () => {
    const clash = { ...bp, services: [bp.services[0]!, { ...bp.services[1]!, port: 9080 }] };
    expect(() => localPorts(clash)).toThrow(
      'services "gateway" and "catalog" have ports with the same last two digits — the local environment derives ports from them; change blueprint:services[].port',
    );
  });

  it("when the base port leaves no room, then the error says which range is allowed", () => {
    expect(() => localPorts(bp, 64000)).toThrow("basePort must be an integer from 1024 to 63535 (got 64000)");
  });

  it("when a service or region is unknown, then the error lists the known ones", () => {
    const ports = localPorts(bp);
    expect(() => ports.service("billing", "blue", "region-a")).toThrow(
      'unknown service "billing" — the model has gateway, catalog, orders',
    );
    expect(() => ports.service("gateway", "blue", "region-z")).toThrow(
      'unknown region "region-z" — the model has region-a, region-b',
    );
  });
});

describe("port preflight", () => {
  it("when a port up needs is taken, then it fails naming it and the way out; free ports pass", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(
        assertPortsFree([
          { what: "dns", host: "127.0.0.1", port },
          { what: "edge of region-a", host: "127.0.1.1", port },
        ]),
      ).rejects.toThrow(
        `ports already in use: dns 127.0.0.1:${port} (EADDRINUSE) — is another local environment running on this base port? Stop it ('npm run local -- down') or pass another --base-port (and --state-dir)`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await expect(assertPortsFree([{ what: "dns", host: "127.0.0.1", port }])).resolves.toBeUndefined();
  });
});
