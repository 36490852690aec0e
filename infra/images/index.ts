import * as pulumi from "@pulumi/pulumi";
import { loadBlueprint } from "../config/stack-file.js";
import { ServiceImages } from "./service-images.js";

// The images stack: builds and pushes every service's image for one commit and exports the digests the
// environment stacks deploy by. Config (Pulumi.yaml beside this file): tags, sourceStack, platforms, nodeImage.
const config = new pulumi.Config();
// The services and registry come from the environment stack's model, so the two never disagree.
const bp = loadBlueprint(config.get("sourceStack") ?? "dev");
const images = new ServiceImages("services", {
  registry: bp.imageRegistry,
  services: bp.services.map((s) => s.name),
  tags: config.requireObject<string[]>("tags"),
  platforms: config.getObject("platforms"),
  nodeImage: config.get("nodeImage"),
  auth: config.get("registryUsername")
    ? { username: config.require("registryUsername"), password: config.requireSecret("registryPassword") }
    : undefined,
});

export const digests = images.digests;
export const refs = images.refs;
