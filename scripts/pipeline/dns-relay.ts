import { createSocket, type Socket } from "node:dgram";

/**
 * A UDP relay from <host>:53 to the local PowerDNS on its unprivileged port. k6 (Go) resolves names through
 * /etc/resolv.conf, which has no port field; the failover drill points a private resolv.conf at this relay.
 * Packets are forwarded unchanged, so the answers are PowerDNS's own.
 */
export interface DnsRelay {
  host: string;
  port: number;
  queries: number;
  close(): Promise<void>;
}

export async function startDnsRelay(opts: {
  host: string;
  port?: number;
  upstream: { host: string; port: number };
}): Promise<DnsRelay> {
  const server = createSocket("udp4");
  const upstreams = new Set<Socket>();
  const relay: DnsRelay = {
    host: opts.host,
    port: opts.port ?? 53,
    queries: 0,
    close: () =>
      new Promise((resolve) => {
        for (const u of upstreams) u.close();
        server.close(() => resolve());
      }),
  };
  server.on("message", (query, client) => {
    relay.queries += 1;
    // One socket per query keeps replies matched to their client without parsing DNS ids.
    const upstream = createSocket("udp4");
    upstreams.add(upstream);
    const done = () => {
      clearTimeout(timer);
      if (upstreams.delete(upstream)) upstream.close();
    };
    const timer = setTimeout(done, 3_000);
    upstream.on("message", (answer) => {
      server.send(answer, client.port, client.address);
      done();
    });
    upstream.on("error", done);
    upstream.send(query, opts.upstream.port, opts.upstream.host);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new Error(
          `DNS relay cannot listen on ${opts.host}:${relay.port} (${err.message}) — port 53 needs root`,
        ),
      ),
    );
    server.bind(relay.port, opts.host, () => resolve());
  });
  return relay;
}
