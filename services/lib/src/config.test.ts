import { describe, expect, test } from "vitest";
import { commonConfig, ConfigError, drainRule, kafkaConfig, loadConfig, mongoConfig } from "./config.js";

const spec = { ...commonConfig(8081), ...mongoConfig("catalog"), ...kafkaConfig() };
const valid = { MONGO_URL: "mongodb://127.0.0.1:27017/", KAFKA_BROKERS: "a:9092, b:9093" };

function problemOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(spec, env, [drainRule]);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("when only required keys are set, then the documented defaults apply", () => {
    const config = loadConfig(spec, valid);
    expect(config).toMatchObject({
      port: 8081,
      host: "0.0.0.0",
      logLevel: "info",
      drainSeconds: 10,
      color: "blue",
      mongoDb: "catalog",
    });
    expect(config.kafkaBrokers).toEqual(["a:9092", "b:9093"]);
    expect(config.kafkaCreateTopics).toBe(true);
  });

  test("when KAFKA_CREATE_TOPICS is false, then the service is told not to create topics", () => {
    expect(loadConfig(spec, { ...valid, KAFKA_CREATE_TOPICS: "false" }).kafkaCreateTopics).toBe(false);
  });

  test("when KAFKA_CREATE_TOPICS is neither true nor false, then the error names it and the choices", () => {
    const message = problemOf({ ...valid, KAFKA_CREATE_TOPICS: "no" });
    expect(message).toContain('KAFKA_CREATE_TOPICS: value "no" is invalid');
    expect(message).toContain("Fix: set KAFKA_CREATE_TOPICS to true or false");
  });

  test("when a required key is missing, then the error names it and shows an example", () => {
    expect(problemOf({ KAFKA_BROKERS: "a:1" })).toContain(
      "MONGO_URL: is required but not set. Fix: set MONGO_URL to a MongoDB connection string, e.g. MONGO_URL=mongodb://",
    );
  });

  test("when PORT is not a number, then the error names PORT, the value and the default", () => {
    const message = problemOf({ ...valid, PORT: "eighty" });
    expect(message).toContain('PORT: value "eighty" is invalid');
    expect(message).toContain('or unset it to use the default "8081"');
  });

  test("when several keys are wrong, then all are listed at once", () => {
    const message = problemOf({ ...valid, COLOR: "red", KAFKA_BROKERS: "nohost" });
    expect(message).toContain("COLOR:");
    expect(message).toContain("KAFKA_BROKERS:");
    expect(message).toContain("each broker must be host:port");
  });

  test("when DRAIN_SECONDS is 4 and SHUTDOWN_DELAY_MS is unset, then the delay defaults to 2000 ms and the config loads", () => {
    const config = loadConfig(spec, { ...valid, DRAIN_SECONDS: "4" }, [drainRule]);
    expect(config.shutdownDelayMs).toBe(2000);
  });

  test("when DRAIN_SECONDS is unset or large, then the delay defaults to 5000 ms like the model", () => {
    expect(loadConfig(spec, valid, [drainRule]).shutdownDelayMs).toBe(5000);
    expect(loadConfig(spec, { ...valid, DRAIN_SECONDS: "60" }, [drainRule]).shutdownDelayMs).toBe(5000);
    expect(loadConfig(spec, { ...valid, DRAIN_SECONDS: "1", SHUTDOWN_DELAY_MS: "" }).shutdownDelayMs).toBe(
      500,
    );
  });

  test("when SHUTDOWN_DELAY_MS is set, then it wins over the derived default and is still checked against DRAIN_SECONDS", () => {
    expect(
      loadConfig(spec, { ...valid, DRAIN_SECONDS: "4", SHUTDOWN_DELAY_MS: "3000" }).shutdownDelayMs,
    ).toBe(3000);
    expect(problemOf({ ...valid, DRAIN_SECONDS: "4", SHUTDOWN_DELAY_MS: "4000" })).toContain(
      "SHUTDOWN_DELAY_MS: 4000 ms is not below DRAIN_SECONDS (4 s)",
    );
  });

  test("when DRAIN_SECONDS is invalid and SHUTDOWN_DELAY_MS unset, then only DRAIN_SECONDS is named", () => {
    const message = problemOf({ ...valid, DRAIN_SECONDS: "0" });
    expect(message).toContain('DRAIN_SECONDS: value "0" is invalid');
    expect(message).not.toContain("SHUTDOWN_DELAY_MS");
  });

  test("when the shutdown delay does not fit in the drain deadline, then SHUTDOWN_DELAY_MS is named", () => {
    expect(problemOf({ ...valid, DRAIN_SECONDS: "2", SHUTDOWN_DELAY_MS: "2000" })).toContain(
      "SHUTDOWN_DELAY_MS: 2000 ms is not below DRAIN_SECONDS (2 s). Fix: lower SHUTDOWN_DELAY_MS or raise DRAIN_SECONDS",
    );
  });
});

describe("FAULT_PATH", () => {
  test("when it is not a regular expression, then the error names it; empty means every path", () => {
    expect(() => loadConfig(commonConfig(8081), { FAULT_PATH: "^/orders/(" })).toThrow(
      /FAULT_PATH: value "\^\/orders\/\(" is invalid \(must be a JavaScript regular expression\)/,
    );
    expect(loadConfig(commonConfig(8081), {}).faultPath).toBeUndefined();
    expect(
      loadConfig(commonConfig(8081), { FAULT_PATH: "^/orders/[^/]+$" }).faultPath?.test("/orders/o-1"),
    ).toBe(true);
  });
});
