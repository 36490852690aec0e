import type { Server } from "node:http";
import type { Logger } from "pino";
import type { Health } from "./health.js";

export interface DrainOptions {
  /** Time with /readyz 503 before the listener closes, so load balancers stop sending (SHUTDOWN_DELAY_MS). */
  shutdownDelayMs: number;
  /** Hard deadline from the start of stop() after which remaining sockets are destroyed (DRAIN_SECONDS). */
  drainSeconds: number;
}

export interface DrainTimeline {
  drainingAt: number;
  listenerClosedAt?: number;
  connectionsDoneAt?: number;
  clientsClosedAt?: number;
  forcedSockets: number;
  /** Milliseconds each closer took, in the order they ran. */
  closers: Record<string, number>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Owns the shutdown order: readiness 503 → deregistration delay → close listener while in-flight requests
 * finish (keep-alive sockets get `Connection: close`) → destroy leftovers at the deadline → run closers LIFO.
 */
export class Lifecycle {
  private readonly closers: { name: string; close: () => Promise<unknown> }[] = [];
  private stopping: Promise<DrainTimeline> | undefined;

  constructor(
    private readonly health: Health,
    private readonly logger: Logger,
    private readonly options: DrainOptions,
  ) {}

  /** Registers a resource to close after HTTP has drained; closers run in reverse order of registration. */
  onClose(name: string, close: () => Promise<unknown>): void {
    this.closers.push({ name, close });
  }

  stop(server?: Server): Promise<DrainTimeline> {
    this.stopping ??= this.drain(server);
    return this.stopping;
  }

  private async drain(server: Server | undefined): Promise<DrainTimeline> {
    const timeline: DrainTimeline = { drainingAt: Date.now(), forcedSockets: 0, closers: {} };
    const deadline = timeline.drainingAt + this.options.drainSeconds * 1000;
    this.health.startDraining();
    this.logger.info(
      { delayMs: this.options.shutdownDelayMs },
      "draining: readiness is 503, waiting for deregistration",
    );
    if (server) {
      await sleep(Math.min(this.options.shutdownDelayMs, Math.max(0, deadline - Date.now())));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      timeline.listenerClosedAt = Date.now();
      server.closeIdleConnections();
      const forced = sleep(Math.max(0, deadline - Date.now())).then(() => "deadline" as const);
      const result = await Promise.race([closed.then(() => "drained" as const), forced]);
      if (result === "deadline") {
        timeline.forcedSockets = await countConnections(server);
        this.logger.warn(
          { sockets: timeline.forcedSockets },
          "drain deadline reached: destroying remaining sockets",
        );
        server.closeAllConnections();
        await closed;
      }
      timeline.connectionsDoneAt = Date.now();
    }
    for (const closer of [...this.closers].reverse()) {
      const started = Date.now();
      // Kubernetes kills at DRAIN_SECONDS + 5; closers share the 4 s after the deadline, so exit stays clean.
      const budgetMs = Math.max(100, deadline + 4000 - started);
      try {
        const outcome = await Promise.race([
          closer.close().then(() => "closed"),
          sleep(budgetMs).then(() => "timeout"),
        ]);
        if (outcome === "timeout")
          this.logger.warn({ closer: closer.name, budgetMs }, "closer timed out; moving on");
      } catch (err) {
        this.logger.warn({ err, closer: closer.name }, "closer failed");
      }
      timeline.closers[closer.name] = Date.now() - started;
    }
    timeline.clientsClosedAt = Date.now();
    this.logger.info({ timeline }, "stopped");
    return timeline;
  }
}

function countConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((_err, n) => resolve(n)));
}
