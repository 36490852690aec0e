import type { Blueprint, Color } from "../../infra/model/index.js";
import type { RoutingState } from "./nginx-config.js";
import type { Faults } from "./service-env.js";
import type { LocalPorts } from "./ports.js";
import type { ProcessRecord } from "./state.js";

// The local environment API the pipeline's local target and `npm run local` drive.

export interface LocalEndpoints {
  /** Region name from the model. */
  region: string;
  /** The region's nginx edge, e.g. http://127.0.1.1:18080. */
  edge: string;
  /** Host header for live traffic (blueprint.edge.hostname). */
  publicHost: string;
  /** Host header routed to the idle color (blueprint.edge.previewHostname). */
  previewHost: string;
}

export interface ProcessStatus {
  name: string;
  pid: number;
  alive: boolean;
  role: string;
  url: string;
  log: string;
}

export interface LocalEnvironment {
  blueprint: Blueprint;
  /** One per region, primary first. */
  endpoints: LocalEndpoints[];
  /** Every port of the environment (the same on each region's address). */
  ports: LocalPorts;
  /** PowerDNS answering `name` (= edge.hostname) with the healthy region's address. */
  dns: { host: string; port: number; name: string };
  /** Data tier + active color services + edges + DNS. */
  up(onProgress?: (line: string) => void): Promise<void>;
  /**
   * Starts that color's services in every region (or in `regions` only) at `version`, replacing the color's running
   * ones there (faults: a deliberately bad release; injected in the services the edge routes to, so clients see the
   * configured error rate).
   */
  deployColor(color: Color, version: string, opts?: { faults?: Faults; regions?: string[] }): Promise<void>;
  /** Every service of the color answers /readyz 200 in every region. */
  waitReady(color: Color, timeoutMs?: number): Promise<void>;
  /** Writes <stateDir>/active-color, regenerates the nginx configs and reloads the edges. */
  applyRouting(rollout: RoutingState): Promise<void>;
  /** Graceful SIGTERM of that color's services. */
  stopColor(color: Color): Promise<void>;
  /** Failover drill. */
  stopEdge(region: string): Promise<void>;
  startEdge(region: string): Promise<void>;
  status(): Promise<ProcessStatus[]>;
  /**
   * Drills: stop a backing server by PID (`<redis|kafka|mirrormaker|postgres|ferretdb>-<region>`), start it again on
   * its port and data.
   */
  stopBacking(name: string): Promise<void>;
  startBacking(name: string): Promise<void>;
  /** Region loss: SIGKILL every process of the region at once; resolves to their names. */
  killRegion(region: string): Promise<string[]>;
  /** Each region's PostgreSQL: primary (writable), standby, or down. */
  databaseRoles(): Promise<Record<string, "primary" | "standby" | "down">>;
  /** The takeover: the region's standby PostgreSQL becomes the writable primary. */
  promoteDatabase(region: string): Promise<void>;
  /** Bytes the standbys are behind the writable primary; null when none streams. */
  replicationLag(): Promise<number | null>;
  /** Cuts every link between regions (iptables drops packets to the peer addresses); resolves to the heal. */
  partition(): Promise<() => Promise<void>>;
  /** Fail-back: the lost region's processes start again, its PostgreSQL as a standby of the current primary. */
  restoreRegion(region: string): Promise<void>;
  /** Drills: the running service processes, and a SIGTERM-then-start of one of them (waits until it is ready). */
  services(): ProcessRecord[];
  restartService(name: string, opts?: { nodeArgs?: string[] }): Promise<void>;
  /** Stops every process by PID; idempotent. */
  down(): Promise<void>;
}

export interface LocalEnvironmentOptions {
  stack?: string;
  /** Default .local/<stack>. */
  stateDir?: string;
  /** Default 18000 (edge 18080, DNS 18053). */
  basePort?: number;
  /** A test's own blueprint; default loadBlueprint(stack). */
  blueprint?: Blueprint;
  /** Entry file of a service; default services/<name>/dist/main.js (built by `npm run build`). */
  serviceEntry?: (service: string) => string;
  /** Run Jaeger and send the services' spans to it (sampled at the model's platform.tracing.sampleRatio); default true. */
  tracing?: boolean;
}
