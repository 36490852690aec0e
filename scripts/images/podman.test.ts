import { describe, expect, it } from "vitest";
import { buildServiceColor } from "../../infra/components/workload.js";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { runFlagsFromPodSpec, type PodTemplate } from "./podman.js";

const bp = loadBlueprint("dev");
const template = (name: string) =>
  (
    buildServiceColor(
      bp,
      bp.primaryRegion,
      bp.services.find((s) => s.name === name)!,
      "blue",
    ).find((o) => o.kind === "Deployment") as unknown as { spec: { template: PodTemplate } }
  ).spec.template;

describe("the image test runs a container the way the rendered pod spec does", () => {
  it("a service's securityContext and volumes become podman's user, read-only root, tmpfs and capability flags", () => {
    expect(runFlagsFromPodSpec(template("catalog"), "catalog", { rollout: "/tmp/rollout" })).toEqual([
      "--user",
      "1000:1000",
      "--read-only",
      "--read-only-tmpfs=false",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--tmpfs",
      "/tmp:rw,size=64m",
      "--volume",
      "/tmp/rollout:/etc/blueprint/rollout:ro",
    ]);
  });

  it("when the pod spec mounts a volume the test cannot reproduce, then deriving the flags fails", () => {
    const t = template("gateway");
    t.spec.volumes = [...(t.spec.volumes ?? []).filter((v) => v.name !== "tmp"), { name: "tmp" }];
    expect(() => runFlagsFromPodSpec(t, "gateway", { rollout: "/tmp/rollout" })).toThrow(
      "gateway: volume tmp is neither an emptyDir nor a ConfigMap",
    );
  });

  it("when a ConfigMap volume has no directory, then deriving the flags fails and names it", () => {
    expect(() => runFlagsFromPodSpec(template("orders"), "orders")).toThrow(
      "orders: no directory given for ConfigMap rollout",
    );
  });
});
