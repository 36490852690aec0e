import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPortFree } from "../scripts/lib/servers/ports.js";
import { pidAlive, useKafka, useMongo, useNginx, useRedis } from "./harness.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

async function expectGone(server: {
  pid: number;
  host: string;
  port: number;
  stop(): Promise<void>;
}): Promise<void> {
  await server.stop();
  expect(pidAlive(server.pid)).toBe(false);
  expect(await isPortFree(server.host, server.port)).toBe(true);
}

describe("redis", () => {
  const redis = useRedis();

  it("when started on a free loopback port, then SET/GET round-trips", async () => {
    expect(redis().url).toBe(`redis://127.0.0.1:${redis().port}`);
    const client = new Redis(redis().url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    try {
      await client.set("greeting", "hello");
      expect(await client.get("greeting")).toBe("hello");
    } finally {
      client.disconnect();
    }
  });

  it("when stopped, then its PID is gone and its port is free", async () => {
    await expectGone(redis());
  });
});

describe("ferretdb (MongoDB wire protocol)", () => {
  const mongo = useMongo();

  it("when a document is inserted, then find returns it", async () => {
    const client = new MongoClient(mongo().url, { serverSelectionTimeoutMS: 5_000 });
    try {
      const products = client.db("catalog").collection<{ _id: string; priceCents: number }>("products");
      await products.insertOne({ _id: "sku-1", priceCents: 1299 });
      expect(await products.findOne({ _id: "sku-1" })).toEqual({ _id: "sku-1", priceCents: 1299 });
    } finally {
      await client.close();
    }
  });

  it("when stopped, then its PID is gone and its port is free", async () => {
    await expectGone(mongo());
  });
});

describe("kafka (KRaft)", () => {
  const kafka = useKafka({ topics: [{ name: "orders.events", partitions: 3 }] });

  it("when the harness was given topics, then they exist with their partitions", async () => {
    const admin = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: ["orders.events"] });
      expect(metadata.topics[0]?.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  it("when an idempotent producer sends with acks=all, then a consumer group receives every message", async () => {
    const client = new Kafka({
      clientId: "harness-test",
      brokers: kafka().brokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = client.admin();
    await admin.connect();
    expect(
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: "harness.roundtrip", numPartitions: 2 }],
      }),
    ).toBe(true);
    await admin.disconnect();

    const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = client.consumer({ groupId: "harness-group" });
    try {
      await producer.connect();
      const sent = await producer.send({
        topic: "harness.roundtrip",
        acks: -1,
        messages: ["a", "b", "c", "d"].map((key) => ({ key, value: JSON.stringify({ orderId: key }) })),
      });
      expect(sent.every((r) => r.errorCode === 0)).toBe(true);

      await consumer.connect();
      await consumer.subscribe({ topic: "harness.roundtrip", fromBeginning: true });
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`consumer got only ${received.join(",")} within 30 s`)),
          30_000,
        );
        void consumer.run({
          eachMessage: async ({ message }) => {
            received.push(message.key?.toString() ?? "");
            if (received.length === 4) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      expect(received.sort()).toEqual(["a", "b", "c", "d"]);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });

  it("when stopped, then its PID is gone and its port is free", async () => {
    await expectGone(kafka());
  });
});

/** A tiny upstream that answers with its own name, so the test sees which one nginx proxied to. */
function upstream(name: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function proxyConfig(listenPort: number, upstreamPort: number): string {
  return `events {}
http {
  upstream app { server 127.0.0.1:${upstreamPort}; }
  server {
    listen 127.0.0.1:${listenPort};
    location /nginx_status { stub_status; }
    location / { proxy_pass http://app; }
  }
}
`;
}

describe("nginx", () => {
  let blue: Server;
  let green: Server;
  let listenPort = 0;
  const port = (s: Server) => (s.address() as AddressInfo).port;

  beforeAll(async () => {
    [blue, green] = await Promise.all([upstream("blue"), upstream("green")]);
    const probe = await upstream("port-probe");
    listenPort = port(probe);
    await new Promise((resolve) => probe.close(resolve));
  });
  afterAll(async () => {
    await Promise.all([blue, green].map((s) => new Promise((resolve) => s?.close(resolve))));
  });
  const nginx = useNginx(() => proxyConfig(listenPort, port(blue)));

  it("when a request arrives, then it is proxied to the configured upstream", async () => {
    const response = await fetch(`${nginx().url}/`);
    expect(await response.text()).toBe("blue");
  });

  it("when reloaded with another upstream, then the next request reaches the new one", async () => {
    await nginx().reload(proxyConfig(listenPort, port(green)));
    const response = await fetch(`${nginx().url}/`);
    expect(await response.text()).toBe("green");
  });

  it("when reloaded with an invalid config, then reload rejects naming nginx and the old config keeps serving", async () => {
    await expect(
      nginx().reload("events {}\nhttp { server { listen 127.0.0.1:1; bogus_directive on; } }\n"),
    ).rejects.toThrow(/nginx: reload rejected.*\n.*bogus_directive/);
    expect(await (await fetch(`${nginx().url}/`)).text()).toBe("green");
  });

  it("when stub_status is asked, then it reports active connections", async () => {
    expect(await (await fetch(`${nginx().url}/nginx_status`)).text()).toMatch(/^Active connections: \d+/);
  });

  it("when stopped, then its PID is gone and its port is free", async () => {
    await expectGone(nginx());
  });
});
