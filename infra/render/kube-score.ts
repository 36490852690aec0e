import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const KUBE_SCORE = join(import.meta.dirname, "..", "..", ".cache", "tools", "bin", "kube-score");

/** Checks we switch off, each for a reason that holds for every object we render. */
export const IGNORED_CHECKS: Record<string, string> = {
  "container-security-context-user-group-id":
    "wants UID/GID > 10000; the official node image's non-root user is 1000 (redis: 999) and the pods run as it with runAsNonRoot",
  "deployment-targeted-by-hpa-does-not-have-replicas-configured":
    "a new color must start at full size (the API default of 1 would pass `pulumi up` with one pod, as the cluster rehearsal showed); spec.replicas is the HPA's minimum on create and ignored on updates (ignoreChanges), so Pulumi never fights the HPA",
};

export interface KubeScoreResult {
  available: boolean;
  critical: string[];
  warning: string[];
  output: string;
}

/** Runs kube-score over rendered files; `available: false` when the binary is not installed (run `npm run setup`). */
export function runKubeScore(files: string[]): KubeScoreResult {
  if (!existsSync(KUBE_SCORE)) return { available: false, critical: [], warning: [], output: "" };
  const args = [
    "score",
    "--output-format",
    "ci",
    ...Object.keys(IGNORED_CHECKS).flatMap((c) => ["--ignore-test", c]),
    ...files,
  ];
  let output: string;
  try {
    output = execFileSync(KUBE_SCORE, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    // kube-score exits 1 when it finds a critical; its report is still on stdout.
    const failure = error as { stdout?: string; stderr?: string };
    output = String(failure.stdout ?? "");
    if (!output)
      return {
        available: true,
        critical: [`[CRITICAL] kube-score failed: ${String(failure.stderr).trim()}`],
        warning: [],
        output: "",
      };
  }
  const lines = output.split("\n");
  return {
    available: true,
    critical: lines.filter((l) => l.startsWith("[CRITICAL]")),
    warning: lines.filter((l) => l.startsWith("[WARNING]")),
    output,
  };
}
