import { z } from "zod";

/** One configuration key: where it comes from, what it means, and what it defaults to. */
export interface ConfigKey<S extends z.ZodType = z.ZodType> {
  env: string;
  schema: S;
  doc: string;
  /** Raw env string used when the variable is unset; no default means the key is required. */
  default?: string;
  /**
   * Raw env string used when the variable is unset, computed from the other keys once they parsed (takes
   * precedence over `default`, which then only documents the rule). Not called when another key is invalid.
   */
  defaultFrom?: (config: Record<string, unknown>) => string;
  /** Shown in the fix hint of required keys. */
  example?: string;
}

export type ConfigSpec = Record<string, ConfigKey>;
export type ConfigOf<T extends ConfigSpec> = { [K in keyof T]: z.output<T[K]["schema"]> };

export interface ConfigProblem {
  env: string;
  message: string;
  fix: string;
}

/** Thrown by loadConfig; its message names every bad variable and how to fix it. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      "Invalid configuration:\n" +
        problems.map((p) => `  - ${p.env}: ${p.message}. Fix: ${p.fix}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function key<S extends z.ZodType>(
  env: string,
  schema: S,
  opts: Omit<ConfigKey<S>, "env" | "schema">,
): ConfigKey<S> {
  return { env, schema, ...opts };
}

function fixFor(k: ConfigKey): string {
  const hint = k.example ? `, e.g. ${k.env}=${k.example}` : "";
  return k.default === undefined
    ? `set ${k.env} to ${k.doc}${hint}`
    : `set ${k.env} to ${k.doc}${hint}, or unset it to use the default "${k.default}"`;
}

/** Parses every key from `env`; collects all problems before throwing one ConfigError. */
export function loadConfig<T extends ConfigSpec>(
  spec: T,
  env: NodeJS.ProcessEnv = process.env,
  rules: ((config: ConfigOf<T>) => ConfigProblem | undefined)[] = [],
): ConfigOf<T> {
  const problems: ConfigProblem[] = [];
  const out: Record<string, unknown> = {};
  const unset = (k: ConfigKey) => env[k.env] === undefined || env[k.env] === "";
  // Keys whose default derives from others parse last, and only when the others are valid.
  const entries = Object.entries(spec);
  const derived = entries.filter(([, k]) => k.defaultFrom && unset(k));
  for (const [name, k] of entries) {
    if (derived.some(([n]) => n === name)) continue;
    parseKey(name, k, unset(k) ? k.default : env[k.env]);
  }
  if (problems.length === 0) for (const [name, k] of derived) parseKey(name, k, k.defaultFrom?.(out));
  if (problems.length === 0) {
    for (const rule of rules) {
      const problem = rule(out as ConfigOf<T>);
      if (problem) problems.push(problem);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<T>;

  function parseKey(name: string, k: ConfigKey, raw: string | undefined): void {
    if (raw === undefined) {
      problems.push({ env: k.env, message: "is required but not set", fix: fixFor(k) });
      return;
    }
    const parsed = k.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else
      problems.push({
        env: k.env,
        message: `value ${JSON.stringify(raw)} is invalid (${parsed.error.issues.map((i) => i.message).join("; ")})`,
        fix: fixFor(k),
      });
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);

/** Default SHUTDOWN_DELAY_MS: 5 s, but at most half the drain deadline so requests still get time to finish. */
export function defaultShutdownDelayMs(drainSeconds: number): number {
  return Math.min(5000, drainSeconds * 500);
}

/** Keys every service reads. */
export function commonConfig(defaultPort: number) {
  return {
    port: key("PORT", port, { doc: "a TCP port 0-65535 (0 picks a free one)", default: String(defaultPort) }),
    host: key("HOST", z.string().min(1), { doc: "the interface to listen on", default: "0.0.0.0" }),
    logLevel: key("LOG_LEVEL", z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), {
      doc: "one of fatal|error|warn|info|debug|trace|silent",
      default: "info",
    }),
    drainSeconds: key("DRAIN_SECONDS", positiveInt.max(300), {
      doc: "the hard shutdown deadline in whole seconds (1-300); on Kubernetes terminationGracePeriodSeconds = preStop 3 s + DRAIN_SECONDS + 5",
      default: "10",
    }),
    shutdownDelayMs: key("SHUTDOWN_DELAY_MS", nonNegativeInt, {
      doc: "milliseconds to stay up with /readyz 503 before closing the listener, so load balancers deregister the pod (below DRAIN_SECONDS)",
      default: "min(5000, DRAIN_SECONDS x 500)",
      // Same rule as infra/model defaultShutdownDelayMs, so a process started outside the model starts too.
      defaultFrom: (c) => String(defaultShutdownDelayMs(c.drainSeconds as number)),
    }),
    region: key("REGION", z.string().regex(/^[a-z0-9-]{1,40}$/), {
      doc: "the region name (lowercase, digits, dashes)",
      default: "local",
    }),
    color: key("COLOR", z.enum(["blue", "green"]), {
      doc: "the release color, blue or green",
      default: "blue",
    }),
    serviceVersion: key("SERVICE_VERSION", z.string().min(1).max(64), {
      doc: "the release version string",
      default: "dev",
    }),
    faultErrorRate: key("FAULT_ERROR_RATE", z.coerce.number().min(0).max(1), {
      doc: "the share of application requests (0-1) answered 500 FAULT_INJECTED, to rehearse a bad release; probes are never affected",
      default: "0",
    }),
    faultDelayMs: key("FAULT_DELAY_MS", z.coerce.number().int().min(0).max(60_000), {
      doc: "milliseconds (0-60000) added to every application request, to rehearse a slow release",
      default: "0",
    }),
    faultPath: key(
      "FAULT_PATH",
      z.string().transform((s, ctx) => {
        if (s === "") return undefined;
        try {
          return new RegExp(s);
        } catch {
          ctx.addIssue({ code: "custom", message: "must be a JavaScript regular expression" });
          return z.NEVER;
        }
      }),
      {
        doc: "a regular expression over the request path: the faults hit only matching requests (empty: every application request)",
        default: "",
        example: "^/orders/[^/]+$",
      },
    ),
  };
}

export type CommonConfig = ConfigOf<ReturnType<typeof commonConfig>>;

/** The shutdown delay must leave time to drain inside the deadline. */
export function drainRule(config: CommonConfig): ConfigProblem | undefined {
  if (config.shutdownDelayMs < config.drainSeconds * 1000) return undefined;
  return {
    env: "SHUTDOWN_DELAY_MS",
    message: `${config.shutdownDelayMs} ms is not below DRAIN_SECONDS (${config.drainSeconds} s)`,
    fix: "lower SHUTDOWN_DELAY_MS or raise DRAIN_SECONDS",
  };
}

export const mongoConfig = (defaultDb: string) => ({
  mongoUrl: key(
    "MONGO_URL",
    z.string().regex(/^mongodb(\+srv)?:\/\//, "must start with mongodb:// or mongodb+srv://"),
    {
      doc: "a MongoDB connection string",
      example: "mongodb://127.0.0.1:27017/",
    },
  ),
  mongoDb: key("MONGO_DB", z.string().regex(/^[A-Za-z0-9_-]{1,63}$/), {
    doc: "the database name",
    default: defaultDb,
  }),
});

export const redisConfig = () => ({
  redisUrl: key("REDIS_URL", z.string().regex(/^rediss?:\/\//, "must start with redis:// or rediss://"), {
    doc: "a Redis URL",
    example: "redis://127.0.0.1:6379",
  }),
});

export const kafkaConfig = () => ({
  kafkaBrokers: key(
    "KAFKA_BROKERS",
    z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, "each broker must be host:port")).min(1)),
    { doc: "comma-separated Kafka brokers host:port", example: "127.0.0.1:9092" },
  ),
  kafkaCreateTopics: key(
    "KAFKA_CREATE_TOPICS",
    z.enum(["true", "false"]).transform((v) => v === "true"),
    {
      doc: 'true or false: whether the service creates missing saga topics at start ("false" where Strimzi KafkaTopic resources own them)',
      default: "true",
    },
  ),
  activeColorFile: key(
    "ACTIVE_COLOR_FILE",
    z.string().transform((s) => (s.trim() === "" ? undefined : s.trim())),
    {
      doc: "the path of a file holding blue or green, the color whose saga consumers run (unset: they always run)",
      default: "",
    },
  ),
});

export const outboxConfig = () => ({
  outboxPollMs: key("OUTBOX_POLL_MS", z.coerce.number().int().min(10).max(60_000), {
    doc: "how often the outbox relay polls for unpublished events, in milliseconds (10-60000)",
    default: "200",
  }),
  outboxLeaseMs: key("OUTBOX_LEASE_MS", z.coerce.number().int().min(500).max(600_000), {
    doc: "how long an instance's claim on unpublished events lasts before another may publish them (ms, 500-600000)",
    default: "10000",
  }),
});
