import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RehearsalReport } from "./rehearsal.js";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const summary = (s: Record<string, number> | undefined) =>
  s
    ? Object.entries(s)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")
    : "";

/** The report as markdown: steps (with a gantt chart), objects per kind and region, the pipeline, the previews. */
export function rehearsalMarkdown(r: RehearsalReport): string {
  const lines: string[] = [
    `# Cluster rehearsal: stack \`${r.stack}\` — ${r.ok ? "PASS" : "FAIL"}`,
    "",
    `Pulumi ${r.versions.pulumi} (the real engine, Automation API inline program), pulumi-resource-kubernetes ` +
      `${r.versions.kubernetesProvider}, Kubernetes ${r.versions.kubernetes} control planes with kwok nodes.`,
    ...(r.error ? ["", `**Failed:** ${r.error}`] : []),
    "",
    "## Steps",
    "",
    "```mermaid",
    "gantt",
    "  dateFormat x",
    "  axisFormat %M:%S",
  ];
  let at = 0;
  for (const s of r.steps) {
    lines.push(`  ${s.name.replaceAll(":", " ")} : ${at}, ${at + Math.max(s.ms, 1)}`);
    at += s.ms;
  }
  lines.push("```", "", "| step | time | resources |", "| --- | --- | --- |");
  for (const s of r.steps) lines.push(`| ${s.name} | ${seconds(s.ms)} | ${summary(s.summary)} |`);
  lines.push("", "## Clusters", "", "| region | API server | start | CRDs |", "| --- | --- | --- | --- |");
  for (const c of r.clusters) lines.push(`| ${c.region} | ${c.server} | ${seconds(c.startMs)} | ${c.crds} |`);
  lines.push("", "| CRDs | from | count |", "| --- | --- | --- |");
  for (const s of r.crdSources) lines.push(`| ${s.name} | ${s.origin} | ${s.count} |`);
  const kinds = [...new Set(Object.values(r.objects).flatMap((k) => Object.keys(k)))].sort();
  const regions = Object.keys(r.objects);
  lines.push(
    "",
    `## Objects applied (${r.objectsInState} in the state, ${r.objectsOnServer} found on the API servers)`,
    "",
    `| kind | ${regions.join(" | ")} |`,
    `| --- | ${regions.map(() => "---").join(" | ")} |`,
  );
  for (const kind of kinds)
    lines.push(`| ${kind} | ${regions.map((g) => r.objects[g]?.[kind] ?? 0).join(" | ")} |`);
  lines.push("", "Deployments after `up` (ready/wanted):", "");
  for (const [region, list] of Object.entries(r.deploymentsReady))
    lines.push(`- ${region}: ${list.join(", ")}`);
  lines.push(
    "",
    `No-change preview after \`up\`: ${summary(r.noChangePreview)}`,
    "",
    `Strimzi objects parsed strictly by Strimzi's API model: ${r.strimziModel.validated}, errors: ${r.strimziModel.errors.length === 0 ? "none" : r.strimziModel.errors.join("; ")}`,
    "",
  );
  if (r.pipeline.snapshots.length > 0) {
    lines.push(
      "## Pipeline (cloud target, real CLI)",
      "",
      "Gates need a data plane, which kwok nodes lack: here they are synthetic results (the second promotion's capacity gate",
      "fails on purpose); `npm run local` proves the k6 gates for real.",
      "",
      "| after | active | versions | public route weights (per region) | Deployments (tag ready/wanted) |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const s of r.pipeline.snapshots) {
      const weights = Object.entries(s.regions)
        .map(([g, v]) => `${g}: ${summary(v.weights)}`)
        .join("; ");
      const deps = Object.entries(s.regions)
        .map(
          ([g, v]) =>
            `${g}: ${Object.entries(v.deployments)
              .map(([n, d]) => `${n} ${d}`)
              .join(", ")}`,
        )
        .join("; ");
      lines.push(`| ${s.step} | ${s.activeColor} | ${summary(s.versions as never)} | ${weights} | ${deps} |`);
    }
    lines.push(
      "",
      `- a plain \`pulumi up\` from the stale stack file after the first promotion: ${
        r.pipeline.plainUpRefusal
          ? `refused (${
              r.pipeline.plainUpRefusal
                .split("\n")
                .find((l) => l.includes("would undo"))
                ?.trim() ?? "would undo the last promotion"
            })`
          : "NOT refused"
      }`,
    );
    for (const p of r.pipeline.promotions)
      lines.push(
        "",
        `- promote ${p.version}: ${p.ok ? "live" : `failed${p.rolledBack ? ", rolled back" : ""} (${p.reason})`}`,
      );
    lines.push("");
  }
  if (r.previews.stacks.length > 0) {
    lines.push(
      "## Preview stacks",
      "",
      `${r.previews.stacks.join(" and ")} created at once on one control plane: ` +
        Object.entries(r.previews.objectsWhileUp)
          .map(([ns, n]) => `${ns} ${n} Deployments/Services/HTTPRoutes`)
          .join(", ") +
        `; pr-${r.previews.stacks[0]?.replace("pr-", "")} updated in place to ${r.previews.updatedImages.join(", ")}` +
        `. Left after destroying both: ${r.previews.leftAfterDestroy.length === 0 ? "nothing" : r.previews.leftAfterDestroy.join(", ")}.`,
      "",
    );
  }
  lines.push("## After destroy", "");
  for (const [region, left] of Object.entries(r.leftAfterDestroy))
    lines.push(`- ${region}: ${left.length === 0 ? "nothing of the stack is left" : left.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

export function writeRehearsalReport(r: RehearsalReport, dir: string): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const markdown = join(dir, "report.md");
  const json = join(dir, "report.json");
  writeFileSync(markdown, rehearsalMarkdown(r));
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  return { markdown, json };
}
