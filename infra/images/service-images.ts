import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { defaultImage } from "../model/index.js";

// @pulumi/docker-build rather than @pulumi/docker's Image: it drives BuildKit through buildx, so one resource builds
// every platform of a multi-platform image, reads and writes a registry build cache, passes build secrets by value,
// pushes several tags and reports the pushed `digest`; @pulumi/docker's Image builds one platform per resource and
// Pulumi recommends docker-build for builds. Neither provider can be downloaded on the build machine, so this
// program is type-checked but never run there, and no test imports it.

const REPO_ROOT = join(import.meta.dirname, "..", "..");

export interface ServiceImagesArgs {
  /** Registry the images are pushed to, as `blueprint:imageRegistry` names it (e.g. ghcr.io/my-org). */
  registry: string;
  /** Services to build: each is a target of services/Dockerfile and is pushed as <registry>/blueprint-<service>. */
  services: string[];
  /** Tags every image gets, e.g. sha-<12-char commit> and the release version; at least one. */
  tags: string[];
  /** @default ["linux/amd64", "linux/arm64"] */
  platforms?: dockerBuild.Platform[];
  /** Registry login; without it the builder's own credentials (docker login) are used. */
  auth?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  /** services/Dockerfile's NODE_IMAGE. @default the Dockerfile's own (the official node:20 bookworm-slim) */
  nodeImage?: pulumi.Input<string>;
  /** A CA bundle (PEM text) for a TLS-intercepting proxy, passed as the Dockerfile's `extra_ca` build secret. */
  extraCa?: pulumi.Input<string>;
}

/** Throws early on args a build would fail on later, with the field named. */
export function validateServiceImagesArgs(args: ServiceImagesArgs): void {
  if (args.services.length === 0)
    throw new Error("ServiceImages: services is empty — name at least one service");
  if (args.tags.length === 0) throw new Error("ServiceImages: tags is empty — give at least one tag to push");
  const bad = args.tags.filter((t) => !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(t));
  if (bad.length > 0) throw new Error(`ServiceImages: ${bad.join(", ")} is not a valid image tag`);
}

/** The build cache of a service's image, kept beside it in the registry (mode max: every stage's layers). */
export function cacheRef(registry: string, service: string): string {
  return `${defaultImage(registry, service)}:buildcache`;
}

/**
 * Builds and pushes each service's image with BuildKit and exposes each one's repo digest, which the environment
 * stacks take as `blueprint:rollout.digests.<color>` so their pods pin `<image>:<version>@<digest>`.
 */
export class ServiceImages extends pulumi.ComponentResource {
  /** Digest (sha256:…) of each service's pushed image (its index when multi-platform), by service name. */
  readonly digests: pulumi.Output<Record<string, string>>;
  /** `<image>:<first tag>@<digest>` of each service, by service name. */
  readonly refs: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: ServiceImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("blueprint:images:ServiceImages", name, {}, opts);
    validateServiceImagesArgs(args);
    const host = args.registry.split("/")[0]!;
    const images = args.services.map((service) => {
      const repository = defaultImage(args.registry, service);
      const image = new dockerBuild.Image(
        `${name}-${service}`,
        {
          context: { location: REPO_ROOT },
          // BuildKit reads services/Dockerfile.dockerignore beside it.
          dockerfile: { location: join(REPO_ROOT, "services", "Dockerfile") },
          target: service,
          platforms: args.platforms ?? [dockerBuild.Platform.Linux_amd64, dockerBuild.Platform.Linux_arm64],
          buildArgs: args.nodeImage ? { NODE_IMAGE: args.nodeImage } : undefined,
          secrets: args.extraCa ? { extra_ca: args.extraCa } : undefined,
          tags: args.tags.map((tag) => `${repository}:${tag}`),
          push: true,
          cacheFrom: [{ registry: { ref: cacheRef(args.registry, service) } }],
          cacheTo: [
            {
              registry: {
                ref: cacheRef(args.registry, service),
                mode: dockerBuild.CacheMode.Max,
                imageManifest: true,
                ociMediaTypes: true,
              },
            },
          ],
          registries: args.auth
            ? [{ address: host, username: args.auth.username, password: args.auth.password }]
            : undefined,
        },
        { parent: this },
      );
      return { service, image };
    });
    this.digests = pulumi
      .all(images.map(({ image }) => image.digest))
      .apply((ds) => Object.fromEntries(images.map(({ service }, i) => [service, ds[i]!])));
    this.refs = pulumi
      .all(images.map(({ image }) => image.ref))
      .apply((rs) => Object.fromEntries(images.map(({ service }, i) => [service, rs[i]!])));
    this.registerOutputs({ digests: this.digests, refs: this.refs });
  }
}
