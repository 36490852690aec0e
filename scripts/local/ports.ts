import { createServer } from "node:net";
import { COLORS, type Blueprint, type Color, type Region } from "../../infra/model/index.js";

/** Default first port of the local environment; `--base-port` or `createLocalEnvironment({ basePort })` moves it. */
export const DEFAULT_BASE_PORT = 18000;

const MAX_REGIONS = 5;

/** Every port of the local environment, derived from the model and one base port. */
export interface LocalPorts {
  basePort: number;
  /** The same on every region's address: PowerDNS checks one URL (`http://<hostname>:<edge>/readyz`) per region. */
  edge: number;
  dns: number;
  /** Per region, each on the region's address: the region's own data tier. */
  redis: number;
  kafka: number;
  /** Kafka's listener for the other regions (MirrorMaker) on the region's peer address: Kafka refuses two listeners on one port. */
  kafkaPeer: number;
  /** FerretDB (the MongoDB wire protocol) over the region's PostgreSQL. */
  mongo: number;
  postgres: number;
  /** Prometheus, on 127.0.0.1: it scrapes every service port of every color and region. */
  prometheus: number;
  /** Alertmanager, on 127.0.0.1: Prometheus's alerts. */
  alertmanager: number;
  /** Jaeger, on 127.0.0.1: OTLP/HTTP in (4318's last digits), the query API (16686's) and its gRPC twin. */
  jaegerOtlp: number;
  jaegerQuery: number;
  jaegerQueryGrpc: number;
  /** Port of a service in a color and region (bound to the region's address). */
  service(serviceName: string, color: Color, regionName: string): number;
}

/**
 * Ports are `basePort + role offset` so a user can guess them: edge 18080, DNS 18053, Redis 18079,
 * Kafka 18092 (18093 for the other regions), FerretDB 18017, PostgreSQL 18032 (each on every region's address),
 * Prometheus 18090, Alertmanager 18091 and Jaeger 18018 (OTLP) / 18086 (query) / 18085 (query gRPC) (on 127.0.0.1), services `basePort + 1000 + 500·color + 100·region + (model port mod 100)`
 * (blue gateway in region-a: 19080, green: 19580, blue in region-b: 19180).
 */
export function localPorts(bp: Blueprint, basePort = DEFAULT_BASE_PORT): LocalPorts {
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65535 - 2000) {
    throw new Error(
      `basePort must be an integer from 1024 to ${65535 - 2000} (got ${basePort}) — pick a free range`,
    );
  }
  if (bp.regions.length > MAX_REGIONS) {
    throw new Error(
      `the local environment runs at most ${MAX_REGIONS} regions (blueprint:regions has ${bp.regions.length}) — remove regions from Pulumi.${bp.stack}.yaml`,
    );
  }
  const suffixes = new Map<number, string>();
  for (const s of bp.services) {
    const other = suffixes.get(s.port % 100);
    if (other !== undefined) {
      throw new Error(
        `services "${other}" and "${s.name}" have ports with the same last two digits — the local environment derives ports from them; change blueprint:services[].port`,
      );
    }
    suffixes.set(s.port % 100, s.name);
  }
  const regionIndex = new Map(bp.regions.map((r: Region) => [r.name, r.index]));
  return {
    basePort,
    edge: basePort + 80,
    dns: basePort + 53,
    redis: basePort + 79,
    kafka: basePort + 92,
    kafkaPeer: basePort + 93,
    mongo: basePort + 17,
    postgres: basePort + 32,
    prometheus: basePort + 90,
    alertmanager: basePort + 91,
    jaegerOtlp: basePort + 18,
    jaegerQuery: basePort + 86,
    jaegerQueryGrpc: basePort + 85,
    service(serviceName, color, regionName) {
      const service = bp.services.find((s) => s.name === serviceName);
      if (!service)
        throw new Error(
          `unknown service "${serviceName}" — the model has ${bp.services.map((s) => s.name).join(", ")}`,
        );
      const region = regionIndex.get(regionName);
      if (region === undefined)
        throw new Error(
          `unknown region "${regionName}" — the model has ${[...regionIndex.keys()].join(", ")}`,
        );
      return basePort + 1000 + 500 * COLORS.indexOf(color) + 100 * region + (service.port % 100);
    },
  };
}

/** One port `up` is about to bind, named for the error message. */
export interface PortUse {
  what: string;
  host: string;
  port: number;
}

/**
 * Fails fast, before anything starts, when a TCP port `up` needs is taken (usually a second environment on the
 * same base port: a second one needs its own `--base-port` as well as its own `--state-dir`).
 */
export async function assertPortsFree(uses: PortUse[]): Promise<void> {
  const taken: string[] = [];
  for (const use of uses) {
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const server = createServer();
      server.once("error", (err: NodeJS.ErrnoException) => resolve(err));
      server.listen(use.port, use.host, () => server.close(() => resolve(undefined)));
    });
    if (error) taken.push(`${use.what} ${use.host}:${use.port} (${error.code ?? error.message})`);
  }
  if (taken.length > 0)
    throw new Error(
      `ports already in use: ${taken.join(", ")} — is another local environment running on this base port? ` +
        `Stop it ('npm run local -- down') or pass another --base-port (and --state-dir)`,
    );
}
