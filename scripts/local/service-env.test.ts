import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { localPorts } from "./ports.js";
import { serviceEnv as modelServiceEnv } from "../../infra/model/index.js";
import { serviceEnv } from "./service-env.js";

const bp = loadBlueprint("local");
const ports = localPorts(bp);
const data = {
  redis: "redis://127.0.2.1:18079",
  mongo: "mongodb://127.0.0.1:18017/",
  kafkaBrokers: ["127.0.0.1:18092"],
};
const service = (name: string) => bp.services.find((s) => s.name === name)!;
const regionB = bp.regions[1]!;

describe("service environment", () => {
  it("the gateway calls catalog and orders of its own color in its own region", () => {
    const env = serviceEnv(service("gateway"), regionB, "green", "2.0.0", ports, data);
    expect(env).toMatchObject({
      PORT: "19680",
      HOST: "127.0.2.1",
      REGION: "region-b",
      COLOR: "green",
      SERVICE_VERSION: "2.0.0",
      CATALOG_URL: "http://127.0.2.1:19681",
      ORDERS_URL: "http://127.0.2.1:19682",
      REDIS_URL: "redis://127.0.2.1:18079",
    });
    expect(env.MONGO_URL).toBeUndefined();
  });

  it("catalog gets the shared Mongo and Kafka and its region's Redis", () => {
    const env = serviceEnv(service("catalog"), regionB, "blue", "1.0.0", ports, data);
    expect(env).toMatchObject({
      MONGO_URL: data.mongo,
      KAFKA_BROKERS: "127.0.0.1:18092",
      REDIS_URL: data.redis,
      DRAIN_SECONDS: "10",
    });
  });

  it("when run locally, then the env is the model's serviceEnv with no deregistration wait and the services' own topic creation", () => {
    const env = serviceEnv(
      service("catalog"),
      regionB,
      "blue",
      "1.0.0",
      ports,
      data,
      {},
      "/tmp/state/active-color",
    );
    expect(env).toMatchObject({ SHUTDOWN_DELAY_MS: "0", ACTIVE_COLOR_FILE: "/tmp/state/active-color" });
    expect(env.KAFKA_CREATE_TOPICS).toBeUndefined();
    expect(env.FAULT_ERROR_RATE).toBeUndefined();
    expect(
      modelServiceEnv({
        region: regionB,
        service: service("catalog"),
        color: "blue",
        version: "1.0.0",
        listen: { host: "127.0.2.1", port: ports.service("catalog", "blue", "region-b") },
        serviceUrl: (callee) => `http://127.0.2.1:${ports.service(callee, "blue", "region-b")}`,
        data: { redisUrl: data.redis, mongoUrl: data.mongo, kafkaBrokers: data.kafkaBrokers },
        shutdownDelayMs: 0,
        activeColorFile: "/tmp/state/active-color",
      }),
    ).toEqual(env);
  });

  it("when faults are given, then they are passed as FAULT_ERROR_RATE and FAULT_DELAY_MS", () => {
    const env = serviceEnv(service("orders"), regionB, "green", "2.0.1", ports, data, {
      errorRate: 0.5,
      delayMs: 200,
    });
    expect(env).toMatchObject({ FAULT_ERROR_RATE: "0.5", FAULT_DELAY_MS: "200" });
  });

  it("when a fault is out of range, then the error names it and the allowed range", () => {
    expect(() => serviceEnv(service("orders"), regionB, "green", "2", ports, data, { errorRate: 2 })).toThrow(
      "faults.errorRate must be between 0 and 1 (got 2)",
    );
    expect(() => serviceEnv(service("orders"), regionB, "green", "2", ports, data, { delayMs: -1 })).toThrow(
      "faults.delayMs must be a whole number of milliseconds >= 0 (got -1)",
    );
  });
});
