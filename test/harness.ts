// Vitest helpers: start a real backing server once per file (beforeAll) and stop it by PID (afterAll).
import { afterAll, beforeAll } from "vitest";
import {
  startKafka,
  startMongo,
  startNginx,
  startRedis,
  type KafkaOptions,
  type MongoOptions,
  type RedisOptions,
  type RunningNginx,
  type RunningServer,
} from "../scripts/lib/servers/index.js";

export type RunningKafka = RunningServer & { brokers: string[] };

/** Registers start/stop hooks; the returned getter gives the server inside tests and fails clearly before beforeAll. */
export function useServer<T extends RunningServer>(name: string, start: () => Promise<T>): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server)
      throw new Error(
        `${name} is not running: use its getter inside a test or hook that runs after beforeAll`,
      );
    return server;
  };
}

export const useRedis = (opts?: RedisOptions): (() => RunningServer) =>
  useServer("redis", () => startRedis(opts));

export const useMongo = (opts?: MongoOptions): (() => RunningServer) =>
  useServer("ferretdb", () => startMongo(opts));

export const useKafka = (opts?: KafkaOptions): (() => RunningKafka) =>
  useServer("kafka", () => startKafka(opts));

/** config is a function so it can use ports of servers started in earlier beforeAll hooks. */
export const useNginx = (config: () => string, dir?: string): (() => RunningNginx) =>
  useServer("nginx", () => startNginx({ config: config(), ...(dir ? { dir } : {}) }));

/** True while a process with this PID exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
