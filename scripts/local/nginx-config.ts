import { COLORS, otherColor, type Blueprint, type Color, type Region } from "../../infra/model/index.js";
import type { LocalPorts } from "./ports.js";

/** What the edge routes: the active color, the deployed versions and optional canary weights. */
export interface RoutingState {
  activeColor: Color;
  versions: Partial<Record<Color, string>>;
  weights?: Record<Color, number>;
}

export interface NginxPaths {
  /** Directory of the access log (the harness puts pid and temp files into the same prefix dir). */
  dir: string;
}

/** Effective public weights: the given ones, else 100 to the active color. Throws if traffic would reach an undeployed color. */
export function effectiveWeights(rollout: RoutingState): Record<Color, number> {
  const weights =
    rollout.weights ??
    ({ [rollout.activeColor]: 100, [otherColor(rollout.activeColor)]: 0 } as Record<Color, number>);
  if (weights.blue + weights.green !== 100) {
    throw new Error(`rollout weights blue + green must be 100 (got ${weights.blue} + ${weights.green})`);
  }
  for (const color of COLORS) {
    if (weights[color] > 0 && !rollout.versions[color]) {
      throw new Error(
        `${weights[color]}% of traffic would go to "${color}" but it has no version — deploy it first or set its weight to 0`,
      );
    }
  }
  return weights;
}

const upstreamName = (service: string, color: Color) => `${service}_${color}`.replace(/-/g, "_");

/** nginx `location` blocks for a route: a Gateway API prefix `/api` matches `/api` and `/api/...`, never `/apix`. */
function locations(path: string, match: "prefix" | "exact"): string[] {
  if (match === "exact") return [`= ${path}`];
  if (path === "/" || path.endsWith("/")) return [path];
  return [`= ${path}`, `${path}/`];
}

/**
 * nginx's own errors as `{error: {code, message}}`, like the services', instead of its HTML pages; 501/505 answer
 * bytes the client sent, so 400. URI pages, not named locations: nginx cannot redirect a bad request line to those.
 */
const edgeErrors: [nginxStatus: number, status: number, code: string, message: string][] = [
  [400, 400, "BAD_REQUEST", "the edge could not parse the request (request line, headers or body framing)"],
  [494, 400, "HEADERS_TOO_LARGE", "a request header or the header block is larger than the edge accepts"],
  [404, 404, "ROUTE_NOT_FOUND", "the edge has no route for this path"],
  [405, 405, "METHOD_NOT_ALLOWED", "the edge does not accept this method"],
  [411, 411, "LENGTH_REQUIRED", "the request needs a Content-Length"],
  [413, 413, "BODY_TOO_LARGE", "the request body is larger than the edge accepts"],
  [414, 414, "URI_TOO_LONG", "the request target is longer than the edge accepts"],
  [501, 400, "TRANSFER_ENCODING_UNSUPPORTED", "the edge accepts no Transfer-Encoding but chunked"],
  [505, 400, "HTTP_VERSION_UNSUPPORTED", "the edge speaks HTTP/1.0 and HTTP/1.1 only"],
  [502, 502, "EDGE_UPSTREAM_UNAVAILABLE", "the edge could not reach the service behind it"],
  [504, 504, "EDGE_UPSTREAM_TIMEOUT", "the service behind the edge did not answer in time"],
];

const jsonError = (code: string, message: string) => `'{"error":{"code":"${code}","message":"${message}"}}'`;

// nginx refuses only TRACE itself; every other method goes to the service, which answers 405 with its own Allow.
const edgeAllow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/** A location's add_header replaces the server's, so the 405 page repeats x-edge-region next to its Allow. */
const errorPages = (regionName: string) =>
  [
    "    default_type application/json;",
    ...edgeErrors.map(([from, status]) => `    error_page ${from} =${status} /_edge/error/${from};`),
    ...edgeErrors.map(([from, status, code, message]) => {
      const allow =
        status === 405
          ? `add_header Allow "${edgeAllow}" always; add_header x-edge-region ${regionName} always; `
          : "";
      return `    location = /_edge/error/${from} { internal; ${allow}return ${status} ${jsonError(code, message)}; }`;
    }),
  ].join("\n");

/**
 * The edge of one region as a complete nginx.conf, generated from the model's routes and hostnames and the
 * rollout: public host → weighted colors (split_clients), preview host → idle color, anything else → 404.
 */
export function renderNginxConfig(
  bp: Blueprint,
  region: Region,
  ports: LocalPorts,
  rollout: RoutingState,
  paths: NginxPaths,
): string {
  const weights = effectiveWeights(rollout);
  const idle = otherColor(rollout.activeColor);
  const deployed = COLORS.filter((c) => rollout.versions[c]);
  const routed = [...new Set(bp.edge.routes.map((r) => r.service))];
  const addr = region.loopbackAddress;
  const dir = paths.dir;
  const unknownHost = jsonError(
    "UNKNOWN_HOST",
    `unknown host: the edge serves ${bp.edge.hostname} and ${bp.edge.previewHostname}`,
  );
  const routePaths = bp.edge.routes.map((r) => r.path).join(", ");

  const upstreams = routed.flatMap((service) =>
    deployed.map((color) =>
      [
        `  upstream ${upstreamName(service, color)} {`,
        `    server ${addr}:${ports.service(service, color, region.name)};`,
        "    keepalive 16;",
        // Below Node's 5 s server keep-alive, so nginx never reuses a connection the service is closing.
        "    keepalive_timeout 4s;",
        "  }",
      ].join("\n"),
    ),
  );

  // split_clients needs shares of the non-default colors only; "*" takes the rest.
  const split = COLORS.filter((c) => c !== rollout.activeColor && weights[c] > 0).map(
    (c) => `    ${weights[c]}% ${c};`,
  );
  const previewColor = rollout.versions[idle] ? idle : "none";

  const locationBlocks = bp.edge.routes.flatMap((route) =>
    locations(route.path, route.match).map((loc) =>
      [
        `    location ${loc} {`,
        `      proxy_pass http://${route.service.replace(/-/g, "_")}_$color;`,
        "    }",
      ].join("\n"),
    ),
  );

  return `# Generated by scripts/local from Pulumi.${bp.stack}.yaml (edge of ${region.name}); do not edit.
worker_processes 1;
events { worker_connections 1024; }

http {
  server_tokens off;
  keepalive_timeout 30s;
  # Slow clients (slowloris, a body that never ends) are closed after 5 s, not nginx's default 60 s.
  client_header_timeout 5s;
  client_body_timeout 5s;

  log_format edge '$remote_addr [$time_local] "$request" $status $body_bytes_sent host=$host color=$color '
                  'rid=$req_id rt=$request_time upstream=$upstream_addr us=$upstream_status ut=$upstream_response_time';
  access_log ${dir}/access.log edge;

  map $http_x_request_id $req_id {
    "" $request_id;
    default $http_x_request_id;
  }

  split_clients "$req_id" $public_color {
${split.join("\n")}
    * ${rollout.activeColor};
  }

  map $host $color {
    ${bp.edge.hostname} $public_color;
    ${bp.edge.previewHostname} ${previewColor};
    default unknown;
  }

${upstreams.join("\n")}

  server {
    listen ${addr}:${ports.edge};
    server_name ${bp.edge.hostname} ${bp.edge.previewHostname};

    if ($color = none) { return 503 ${jsonError("NO_IDLE_COLOR", "no idle color is deployed: the preview host has nothing to serve")}; }
    if ($color = unknown) { return 404 ${unknownHost}; }
${errorPages(region.name)}

    add_header x-edge-region ${region.name} always;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Request-Id $req_id;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Host $host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_connect_timeout 1s;
    proxy_read_timeout 30s;
    # Retries only idempotent requests (nginx never re-sends POST/PATCH without non_idempotent).
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries 2;

${locationBlocks.join("\n")}
    location / { return 404 ${jsonError("ROUTE_NOT_FOUND", `the edge routes ${routePaths} only`)}; }
  }

  server {
    listen ${addr}:${ports.edge} default_server;
${errorPages(region.name)}
    location / { return 404 ${unknownHost}; }
  }
}
`;
}

/** Upstream group names the config defines, for tests and diagnostics. */
export function upstreamNames(bp: Blueprint, rollout: RoutingState): string[] {
  const routed = [...new Set(bp.edge.routes.map((r) => r.service))];
  return routed.flatMap((s) => COLORS.filter((c) => rollout.versions[c]).map((c) => upstreamName(s, c)));
}
