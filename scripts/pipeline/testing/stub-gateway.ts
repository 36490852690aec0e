// TEST DOUBLE: a gateway answering the k6 mix (no cluster runs here), for the cloud target's gates and readiness probes.
// Real gateways run in the local environment's e2e tests and on clusters.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { REQUESTS } from "../../../infra/components/monitoring.js";

export interface StubGateway {
  address: string;
  port: number;
  hosts: string[];
  serverNames: string[];
  /**
   * What it answers as; tests change it to play a gateway of the wrong color or without its catalog, or one whose
   * hop behind it fails where k6 cannot see (hiddenErrors: every product read counts a 5xx of catalog's in /metrics).
   */
  answers: { color: string; catalogStatus: number; hiddenErrors: boolean };
  close(): void;
}

/** The route template of a request of the k6 mix, as the services' metrics label it. */
function routeOf(req: IncomingMessage): string {
  const path = req.url?.split("?")[0] ?? "/";
  if (path === "/api/orders/orders") return "/orders";
  if (path.startsWith("/api/orders/orders/")) return "/orders/:id";
  if (path === "/api/catalog/products") return "/products";
  if (path.startsWith("/api/catalog/products/")) return "/products/:sku";
  return path;
}

/**
 * Answers the k6 mix as green 1.1.0, recording Host headers and, over https, the SNI server names. GET /metrics is
 * the Prometheus exposition of what it answered, labelled as the services label their own series (service, region,
 * color, route, status), for a real Prometheus to scrape.
 */
export async function stubGateway(
  opts: { tls?: { key: string; cert: string }; region?: string } = {},
): Promise<StubGateway> {
  const answers = { color: "green", catalogStatus: 200, hiddenErrors: false };
  const hosts: string[] = [];
  const serverNames: string[] = [];
  const counts = new Map<string, number>();
  const count = (labels: Record<string, string>) => {
    const key = Object.entries({ ...labels, region: opts.region ?? "", color: answers.color })
      .map(([k, v]) => `${k}="${v}"`)
      .join(",");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/metrics") {
      const lines = [...counts].map(([labels, n]) => `${REQUESTS}{${labels}} ${n}`);
      return void res
        .setHeader("content-type", "text/plain; version=0.0.4")
        .end(`# TYPE ${REQUESTS} counter\n${lines.join("\n")}\n`);
    }
    hosts.push(req.headers.host ?? "");
    const sni = (req.socket as TLSSocket).servername;
    if (sni) serverNames.push(sni);
    const route = routeOf(req);
    const status =
      req.url === "/api/catalog/products" && answers.catalogStatus !== 200
        ? answers.catalogStatus
        : req.method === "POST"
          ? 201
          : 200;
    count({ service: "gateway", route, status: String(status) });
    if (answers.hiddenErrors && route === "/products/:sku")
      count({ service: "catalog", route: "/products/:sku", status: "500" });
    res.setHeader("content-type", "application/json");
    res.setHeader("x-color", answers.color);
    res.setHeader("x-service-version", "1.1.0");
    if (status !== 200 && status !== 201)
      return void res.writeHead(status).end('{"error":"upstream unavailable"}');
    if (req.method === "POST") return void res.writeHead(201).end('{"id":"o-1","status":"PENDING"}');
    if (route === "/orders/:id") return void res.end('{"id":"o-1","status":"CONFIRMED"}');
    if (route === "/products") return void res.end('{"items":[{"sku":"s-1","stock":9}]}');
    res.end('{"sku":"s-1","stock":9}');
  };
  const server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { address: `127.0.0.1:${port}`, port, hosts, serverNames, answers, close: () => server.close() };
}

/** A self-signed certificate (openssl) valid for the given DNS names. */
export function selfSigned(dir: string, names: string[]): { key: string; cert: string; certFile: string } {
  const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${names[0]}`,
      "-addext",
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "pipe" },
  );
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), certFile };
}
