import net from "node:net";
import { seededRandom } from "../../services/lib/test/env.js";

/** One raw exchange: what was sent, what came back, and how the connection ended. */
export interface RawOutcome {
  kind: string;
  /** The answer's status, or 0 when the server closed without answering. */
  status: number;
  body: string;
  /** From the first byte written to the close, in ms. */
  closedAfterMs: number;
  /** The server had neither answered nor closed by the deadline (an answered keep-alive socket may stay open). */
  hung: boolean;
  /** The request was HEAD: its answer has no body. */
  head: boolean;
  /** Bytes came back without a status line: an HTTP/0.9 answer (nginx serves `GET /path` with no version so). */
  http09: boolean;
}

export interface MalformedHttpReport {
  cases: number;
  byKind: Record<string, number>;
  byStatus: Record<string, number>;
  serverErrors: number;
  /** Closed with no answer at all, by kind (the request's bytes, for the first few). */
  silentCloses: Record<string, number>;
  silentSamples: string[];
  slowestCloseMs: number;
  /** Closed without an answer once the target's timeout passed (nginx's 408, see `closesSilentlyOnTimeout`). */
  timedOutSilently: number;
  /** Answered without a status line because the request line had no version (HTTP/0.9). */
  http09Answers: number;
  /** Each case that broke a rule: a 5xx, a 4xx without {error: {code, message}}, a connection kept past its deadline. */
  findings: string[];
}

export interface Timeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/** What is fuzzed: its URL, the Host it serves, its limits on slow clients and how it ends a timed-out request. */
export interface RawTarget extends Timeouts {
  /** The Host header (and absolute-form authority) of well-formed requests; default `edge`. */
  host?: string;
  /**
   * nginx ends a request whose header or body did not arrive within its timeout by closing the socket without an
   * answer (it never sends 408); with this, such a close at or after the timeout is counted, not a finding.
   */
  closesSilentlyOnTimeout?: boolean;
}

const orderBody = JSON.stringify({ customerId: "c-1", items: [{ sku: "fuzz-1", quantity: 1 }] });
// One Idempotency-Key per case: concurrent POSTs with one key would mostly answer 409 IDEMPOTENCY_KEY_IN_PROGRESS.
const templates = (key: string, host: string) => [
  `GET /api/catalog/products?limit=5 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  `GET /api/orders/orders/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  `POST /api/orders/orders HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nIdempotency-Key: ${key}\r\nContent-Length: ${orderBody.length}\r\nConnection: close\r\n\r\n${orderBody}`,
];

/** Sends `chunks` (a delay in ms before each) on a fresh socket; resolves when the server closes or the deadline passes. */
export function exchange(
  url: string,
  kind: string,
  chunks: { delayMs: number; bytes: Buffer | string }[],
  deadlineMs: number,
): Promise<RawOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = performance.now();
    const received: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (hung: boolean) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      const answer = Buffer.concat(received).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      const split = answer.indexOf("\r\n\r\n");
      // The first answer's body only: a keep-alive socket may carry answers to bytes parsed as further requests.
      const length = /\r\ncontent-length: *(\d+)/i.exec(split === -1 ? "" : answer.slice(0, split));
      const rest = split === -1 ? "" : answer.slice(split + 4);
      const firstLine = String(chunks[0]?.bytes ?? "").split("\r\n")[0] ?? "";
      resolve({
        kind,
        status: status ? Number(status[1]) : 0,
        body: status ? (length ? rest.slice(0, Number(length[1])) : rest) : answer,
        closedAfterMs: performance.now() - started,
        hung: hung && !status,
        head: String(chunks[0]?.bytes ?? "").startsWith("HEAD "),
        http09: !status && answer.length > 0 && !/ HTTP\/\d/.test(firstLine),
      });
    };
    const socket = net.connect(Number(port), hostname, () => {
      let at = 0;
      for (const chunk of chunks) {
        at += chunk.delayMs;
        timers.push(
          setTimeout(() => {
            if (!socket.destroyed) socket.write(chunk.bytes);
          }, at),
        );
      }
    });
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("close", () => finish(false));
    // A reset (the server gave up on us) is a close too.
    socket.on("error", () => finish(false));
    timers.push(setTimeout(() => finish(true), deadlineMs));
  });
}

function randomBytes(rand: () => number, max: number): Buffer {
  const out = Buffer.alloc(1 + Math.floor(rand() * max));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Flips, inserts or deletes a few bytes of a well-formed request. */
function mutate(rand: () => number, template: string): Buffer {
  const bytes = [...Buffer.from(template)];
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * bytes.length);
    const op = rand();
    if (op < 0.4) bytes[at] = Math.floor(rand() * 256);
    else if (op < 0.7) bytes.splice(at, 0, ...Buffer.from(rand() < 0.5 ? "\r\n" : ":%\0 "));
    else bytes.splice(at, 1 + Math.floor(rand() * 8));
  }
  return Buffer.from(bytes);
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

/** The cases of one round; each is a complete exchange with its own deadline. */
function roundCases(
  rand: () => number,
  t: RawTarget,
): { kind: string; chunks: { delayMs: number; bytes: Buffer | string }[]; deadlineMs: number }[] {
  // A complete but malformed request is answered at once; an incomplete one is closed by the request deadline.
  const slack = Math.max(1000, t.requestTimeoutMs / 2);
  const incomplete = t.requestTimeoutMs + slack;
  const authority = t.host ?? "edge";
  const host = `Host: ${authority}\r\nConnection: close\r\n`;
  const now = (bytes: Buffer | string) => [{ delayMs: 0, bytes }];
  const cl = 1 + Math.floor(rand() * 40);
  return [
    {
      kind: "random-bytes",
      chunks: now(Buffer.concat([randomBytes(rand, 512), Buffer.from("\r\n\r\n")])),
      deadlineMs: incomplete,
    },
    {
      kind: "mutated-request",
      chunks: now(mutate(rand, pick(rand, templates(`raw-fuzz-${Math.floor(rand() * 1e12)}`, authority)))),
      deadlineMs: incomplete,
    },
    {
      kind: "huge-header",
      chunks: now(
        `GET /api/catalog/products HTTP/1.1\r\n${host}X-Big: ${"a".repeat(17_000 + Math.floor(rand() * 200_000))}\r\n\r\n`,
      ),
      deadlineMs: incomplete,
    },
    {
      kind: "many-headers",
      chunks: now(`GET /api/catalog/products HTTP/1.1\r\n${host}${"X-N: 1\r\n".repeat(3000)}\r\n`),
      deadlineMs: incomplete,
    },
    {
      kind: "absolute-form",
      chunks: now(
        `${pick(rand, ["GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"])} ${pick(rand, [
          `http://${authority}/api/catalog/products`,
          "http://evil.example:1/api/orders/orders/x",
          `https://${authority}/api/catalog/metrics`,
          "http://[::1]/api/catalog/products?limit=1",
          `http://${authority}`,
          "http:///api/catalog/products",
          `ftp://${authority}/api/catalog/products`,
          `http://u:p@${authority}/api/orders/orders`,
          "*",
          "edge:443",
          `//${authority}/api/catalog/products`,
          `http://${authority}/%2e%2e/api/catalog/livez`,
        ])} HTTP/1.1\r\n${host}\r\n`,
      ),
      deadlineMs: incomplete,
    },
    {
      kind: "duplicate-content-length",
      chunks: now(
        `POST /api/orders/orders HTTP/1.1\r\n${host}Content-Type: application/json\r\nIdempotency-Key: raw-fuzz-dup-cl\r\n` +
          `${pick(rand, [`Content-Length: ${cl}\r\nContent-Length: ${cl + 1}`, `Content-Length: ${cl}\r\nContent-Length: ${cl}`, `Content-Length: ${cl}, ${cl + 2}`, `Content-Length: ${cl}\r\nTransfer-Encoding: chunked`])}\r\n\r\n` +
          orderBody.slice(0, cl),
      ),
      deadlineMs: incomplete,
    },
    {
      // Declares more body than it sends: the request deadline must close it.
      kind: "short-body",
      chunks: now(
        `POST /api/orders/orders HTTP/1.1\r\n${host}Content-Type: application/json\r\nIdempotency-Key: raw-fuzz-short\r\nContent-Length: 500\r\n\r\n{"customerId"`,
      ),
      deadlineMs: incomplete,
    },
  ];
}

/** Slowloris: a header line every `everyMs`, forever; the headers deadline must close the socket. */
function slowloris(t: RawTarget) {
  const everyMs = Math.max(50, Math.floor(t.headersTimeoutMs / 6));
  const lines = Math.ceil((t.headersTimeoutMs * 3) / everyMs);
  return {
    kind: "slowloris",
    chunks: [
      { delayMs: 0, bytes: `GET /api/catalog/products HTTP/1.1\r\nHost: ${t.host ?? "edge"}\r\n` },
      ...Array.from({ length: lines }, (_, i) => ({ delayMs: everyMs, bytes: `X-Trickle-${i}: x\r\n` })),
    ],
    // Node checks the deadline every headersTimeout/4 (services/lib/src/app.ts).
    deadlineMs: t.headersTimeoutMs * 1.5 + 500,
  };
}

/** Checks one outcome against the rules; returns what is wrong, or undefined. */
export function judge(o: RawOutcome, deadlineMs: number, target?: RawTarget): string | undefined {
  if (o.hung) return `${o.kind}: the connection was still open after ${deadlineMs} ms`;
  if (o.http09) return http09Body(o);
  if (o.status === 0 && !(target && timedOutSilently(o, target)))
    return `${o.kind}: closed without an answer after ${Math.round(o.closedAfterMs)} ms`;
  if (o.status >= 500) return `${o.kind}: ${o.status} ${o.body.slice(0, 200)}`;
  if (o.status >= 400 && !o.head) {
    try {
      const error = (JSON.parse(o.body) as { error?: { code?: unknown; message?: unknown } }).error;
      if (typeof error?.code !== "string" || typeof error.message !== "string" || error.message === "")
        return `${o.kind}: ${o.status} without {error: {code, message}}: ${o.body.slice(0, 200)}`;
    } catch {
      return `${o.kind}: ${o.status} with a body that is not JSON: ${JSON.stringify(o.body.slice(0, 200))}`;
    }
  }
  return undefined;
}

/** An HTTP/0.9 answer has no status to judge; its body must still be the JSON of an answer, never a bare page. */
function http09Body(o: RawOutcome): string | undefined {
  try {
    JSON.parse(o.body);
    return undefined;
  } catch {
    return `${o.kind}: an HTTP/0.9 answer that is not JSON: ${JSON.stringify(o.body.slice(0, 200))}`;
  }
}

/** nginx's end of a request that timed out: no answer, the socket closed once its shorter timeout had passed. */
export function timedOutSilently(o: RawOutcome, t: RawTarget): boolean {
  const timeoutMs = Math.min(t.headersTimeoutMs, t.requestTimeoutMs);
  return (
    t.closesSilentlyOnTimeout === true && o.status === 0 && !o.hung && o.closedAfterMs >= timeoutMs - 100
  );
}

/** Runs `rounds` rounds of malformed requests (7 kinds each) plus slowloris connections, `concurrency` at a time. */
export async function runMalformedHttp(
  url: string,
  opts: RawTarget & { rounds: number; seed: number; concurrency?: number; slowloris?: number },
): Promise<MalformedHttpReport> {
  const rand = seededRandom(opts.seed);
  const cases = [
    ...Array.from({ length: opts.rounds }, () => roundCases(rand, opts)).flat(),
    ...Array.from({ length: opts.slowloris ?? 5 }, () => slowloris(opts)),
  ];
  const report: MalformedHttpReport = {
    cases: 0,
    byKind: {},
    byStatus: {},
    serverErrors: 0,
    silentCloses: {},
    silentSamples: [],
    slowestCloseMs: 0,
    timedOutSilently: 0,
    http09Answers: 0,
    findings: [],
  };
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const outcome = await exchange(url, c.kind, c.chunks, c.deadlineMs);
      report.cases++;
      report.byKind[c.kind] = (report.byKind[c.kind] ?? 0) + 1;
      report.byStatus[outcome.status] = (report.byStatus[outcome.status] ?? 0) + 1;
      if (outcome.status >= 500) report.serverErrors++;
      if (outcome.http09) report.http09Answers++;
      else if (timedOutSilently(outcome, opts)) report.timedOutSilently++;
      else if (outcome.status === 0 && !outcome.hung) {
        report.silentCloses[c.kind] = (report.silentCloses[c.kind] ?? 0) + 1;
        if (report.silentSamples.length < 5)
          report.silentSamples.push(JSON.stringify(String(c.chunks[0]?.bytes).slice(0, 300)));
      }
      report.slowestCloseMs = Math.max(report.slowestCloseMs, Math.round(outcome.closedAfterMs));
      const finding = judge(outcome, c.deadlineMs, opts);
      if (finding && report.findings.length < 50)
        report.findings.push(`${finding} ← sent ${JSON.stringify(String(c.chunks[0]?.bytes).slice(0, 400))}`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 32 }, worker));
  return report;
}
