import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint, Color, Region, Service } from "../model/index.js";
import { createObject } from "./k8s-object.js";
import { buildServiceColor } from "./workload.js";

export interface ServiceColorArgs {
  blueprint: Blueprint;
  region: Region;
  service: Service;
  /** A color with a version in `rollout.versions`. */
  color: Color;
  provider: k8s.Provider;
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** One release color of one service: Deployment, Service, PodDisruptionBudget and HorizontalPodAutoscaler. */
export class ServiceColor extends pulumi.ComponentResource {
  readonly workload: string;

  constructor(name: string, args: ServiceColorArgs, opts: pulumi.ComponentResourceOptions) {
    super("blueprint:app:ServiceColor", name, {}, opts);
    const { blueprint: bp, color } = args;
    if (!bp.rollout.versions[color]) {
      throw new Error(
        `ServiceColor ${name}: color "${color}" has no version — set rollout.versions.${color}`,
      );
    }
    for (const obj of buildServiceColor(bp, args.region, args.service, color)) {
      createObject(`${name}-${obj.kind.toLowerCase()}`, obj, {
        parent: this,
        provider: args.provider,
        dependsOn: args.dependsOn,
        // The HPA owns the replica count once the Deployment exists.
        ...(obj.kind === "Deployment" ? { ignoreChanges: ["spec.replicas"] } : {}),
      });
    }
    this.workload = `${args.service.name}-${color}`;
    this.registerOutputs({ workload: this.workload });
  }
}
