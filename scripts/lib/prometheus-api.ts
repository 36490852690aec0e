// Prometheus's HTTP API (/api/v1/...): one call with its error envelope, for every reader of the local Prometheus
// (the gates' server-side analysis, the rehearsal's time series, the drills' alert watch).

/** `data` of GET <baseUrl>/api/v1/<path>?<params>; throws with Prometheus's own error (a bad query names itself). */
export async function prometheusApi<T>(
  baseUrl: string,
  path: string,
  params: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<T> {
  const query = new URLSearchParams(params).toString();
  const res = await fetch(`${baseUrl}/api/v1/${path}${query ? `?${query}` : ""}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json().catch(() => ({}))) as { status?: string; error?: string; data?: T };
  if (!res.ok || body.status !== "success")
    throw new Error(
      `Prometheus ${baseUrl} refused ${path} ${params.query ?? ""}: ${body.error ?? `HTTP ${res.status}`}`,
    );
  return body.data as T;
}
