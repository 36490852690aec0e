import { Certificate, Issuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1";
import { Gateway, HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import type { K8sObject } from "../components/meta.js";
import { loadCrdValidators } from "./crd-validators.js";
import { STRIMZI_GROUP, STRIMZI_SOURCE, validateWithStrimziModel } from "./strimzi-model.js";

type Validator = (obj: K8sObject) => void;
type Entry = { source: string; validate: Validator };
const model =
  (Ctor: new (data: never) => { validate(): void }): Validator =>
  (obj) =>
    new Ctor(obj as never).validate();

/** Validator per apiVersion/kind: kubernetes-models for core kinds, the model packages for Gateway API and cert-manager. */
const MODEL_VALIDATORS: Record<string, Entry> = {
  "v1/ConfigMap": { source: "kubernetes-models", validate: model(ConfigMap) },
  "v1/Namespace": { source: "kubernetes-models", validate: model(Namespace) },
  "v1/Secret": { source: "kubernetes-models", validate: model(Secret) },
  "v1/Service": { source: "kubernetes-models", validate: model(Service) },
  "v1/ServiceAccount": { source: "kubernetes-models", validate: model(ServiceAccount) },
  "rbac.authorization.k8s.io/v1/Role": { source: "kubernetes-models", validate: model(Role) },
  "rbac.authorization.k8s.io/v1/RoleBinding": { source: "kubernetes-models", validate: model(RoleBinding) },
  "apps/v1/Deployment": { source: "kubernetes-models", validate: model(Deployment) },
  "apps/v1/StatefulSet": { source: "kubernetes-models", validate: model(StatefulSet) },
  "autoscaling/v2/HorizontalPodAutoscaler": {
    source: "kubernetes-models",
    validate: model(HorizontalPodAutoscaler),
  },
  "networking.k8s.io/v1/NetworkPolicy": { source: "kubernetes-models", validate: model(NetworkPolicy) },
  "policy/v1/PodDisruptionBudget": { source: "kubernetes-models", validate: model(PodDisruptionBudget) },
  "gateway.networking.k8s.io/v1/Gateway": {
    source: "@kubernetes-models/gateway-api",
    validate: model(Gateway),
  },
  "gateway.networking.k8s.io/v1/HTTPRoute": {
    source: "@kubernetes-models/gateway-api",
    validate: model(HTTPRoute),
  },
  "cert-manager.io/v1/Certificate": {
    source: "@kubernetes-models/cert-manager",
    validate: model(Certificate),
  },
  "cert-manager.io/v1/Issuer": { source: "@kubernetes-models/cert-manager", validate: model(Issuer) },
};

export interface ValidationError {
  object: string;
  message: string;
}

export interface ObjectValidator {
  /** Which schema validates a kind, or undefined when none does. */
  sourceOf(obj: K8sObject): string | undefined;
  /** Validates every object against its schema; an object without a schema is an error too. */
  validate(objects: K8sObject[]): ValidationError[];
}

export async function createValidator(): Promise<ObjectValidator> {
  const validators: Record<string, Entry> = { ...MODEL_VALIDATORS, ...(await loadCrdValidators()) };
  return {
    sourceOf: (obj) =>
      obj.apiVersion.startsWith(`${STRIMZI_GROUP}/`)
        ? STRIMZI_SOURCE
        : validators[`${obj.apiVersion}/${obj.kind}`]?.source,
    validate(objects) {
      const errors: ValidationError[] = [];
      const strimzi = validateWithStrimziModel(objects);
      for (const obj of objects) {
        const id = `${obj.apiVersion}/${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
        if (obj.apiVersion.startsWith(`${STRIMZI_GROUP}/`)) {
          for (const message of strimzi.get(obj) ?? ["not validated"]) errors.push({ object: id, message });
          continue;
        }
        const entry = validators[`${obj.apiVersion}/${obj.kind}`];
        if (!entry) {
          errors.push({
            object: id,
            message: "no schema to validate this kind — add one to infra/render/validate.ts",
          });
          continue;
        }
        try {
          entry.validate(obj);
        } catch (error) {
          errors.push({ object: id, message: (error as Error).message });
        }
      }
      return errors;
    },
  };
}
