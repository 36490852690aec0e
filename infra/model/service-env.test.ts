import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../config/stack-file.js";
import { BlueprintConfigError, parseBlueprint } from "./index.js";
import { serviceEnv, type ServiceEnvInput } from "./service-env.js";

const bp = loadBlueprint("staging");
const service = (name: string) => bp.services.find((s) => s.name === name)!;
const input = (name: string, extra: Partial<ServiceEnvInput> = {}): ServiceEnvInput => ({
  region: bp.regions[1]!,
  service: service(name),
  color: "green",
  version: "2.0.0",
  listen: { host: "10.0.0.1", port: 8081 },
  serviceUrl: (callee) => `http://${callee}-green:1`,
  data: { redisUrl: "redis://r", mongoUrl: "mongodb://m", kafkaBrokers: ["k1:9092", "k2:9092"] },
  ...extra,
});

describe("serviceEnv", () => {
  it("when catalog runs in green with the rollout file, then its env is exactly the model's keys and the given addresses", () => {
    expect(
      serviceEnv(
        input("catalog", {
          activeColorFile: "/etc/blueprint/rollout/active-color",
          kafkaCreateTopics: false,
        }),
      ),
    ).toEqual({
      PORT: "8081",
      HOST: "10.0.0.1",
      LOG_LEVEL: "info",
      REGION: "us-east",
      COLOR: "green",
      SERVICE_VERSION: "2.0.0",
      DRAIN_SECONDS: "10",
      SHUTDOWN_DELAY_MS: "5000",
      REDIS_URL: "redis://r",
      MONGO_URL: "mongodb://m",
      KAFKA_BROKERS: "k1:9092,k2:9092",
      KAFKA_CREATE_TOPICS: "false",
      ACTIVE_COLOR_FILE: "/etc/blueprint/rollout/active-color",
    });
  });

  it("when the gateway runs without rollout options, then it gets same-color URLs of its callees and no Kafka or rollout keys", () => {
    const env = serviceEnv(input("gateway", { kafkaCreateTopics: false }));
    expect(env).toMatchObject({ CATALOG_URL: "http://catalog-green:1", ORDERS_URL: "http://orders-green:1" });
    expect(env.MONGO_URL).toBeUndefined();
    expect(env.KAFKA_CREATE_TOPICS).toBeUndefined();
    expect(env.ACTIVE_COLOR_FILE).toBeUndefined();
  });

  it("when a shutdown delay does not fit in the drain deadline, then it is refused before any process starts", () => {
    expect(() => serviceEnv(input("orders", { shutdownDelayMs: 10_000 }))).toThrow(
      "shutdownDelayMs must be a whole number of milliseconds below drainSeconds × 1000 (10000; got 10000)",
    );
  });

  it("when a stack's services[].env sets a key serviceEnv owns, then the model rejects it with the key", () => {
    const config = {
      environment: "dev",
      regions: [{ name: "eu-west", kubeconfig: { context: "x" } }],
      services: [
        {
          name: "api",
          image: "r/api",
          port: 8080,
          dependsOn: ["web"],
          env: { SHUTDOWN_DELAY_MS: "1", WEB_URL: "x" },
        },
        { name: "web", image: "r/web", port: 8081, env: { FEATURE_X: "on" } },
      ],
      edge: { hostname: "shop.example.com", routes: [{ path: "/", service: "api" }] },
      rollout: { versions: { blue: "1" } },
      dns: { provider: "route53", zone: "example.com" },
    };
    let error: unknown;
    try {
      parseBlueprint(config, "t");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BlueprintConfigError);
    expect((error as BlueprintConfigError).problems.map((p) => p.path)).toEqual([
      "blueprint:services[0].env.SHUTDOWN_DELAY_MS",
      "blueprint:services[0].env.WEB_URL",
    ]);
    expect((error as BlueprintConfigError).problems[0]!.message).toBe(
      "is set by the blueprint for every instance (serviceEnv) — remove it from env; change the model key behind it instead (port, drainSeconds, shutdownDelayMs, dependsOn, rollout)",
    );
  });
});
