import type { Blueprint, Color } from "../../infra/model/index.js";
import type { RoutingState } from "./nginx-config.js";
import type { Faults } from "./service-env.js";
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
  /** PowerDNS answering `name` (= edge.hostname) with the healthy region's address. */
  dns: { host: string; port: number; name: string };
  /** Data tier + active color services + edges + DNS. */
  up(onProgress?: (line: string) => void): Promise<void>;
  /**
   * Starts that color's services in every region at `version` (faults: a deliberately bad release; injected in the
   * services the edge routes to, so clients see the configured error rate).
   */
  deployColor(color: Color, version: string, opts?: { faults?: Faults }): Promise<void>;
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
  /** Drills: stop a backing server by PID (`kafka`, `ferretdb`, `redis-<region>`), start it again on its port and data. */
  stopBacking(name: string): Promise<void>;
  startBacking(name: string): Promise<void>;
  /** Drills: the running service processes, and a SIGTERM-then-start of one of them (waits until it is ready). */
  services(): ProcessRecord[];
  restartService(name: string): Promise<void>;
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
}
