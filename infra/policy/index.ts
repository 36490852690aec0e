import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies.js";

// `pulumi preview --policy-pack infra/policy`: the same invariants the unit policies check offline.
new PolicyPack("blueprint-invariants", { policies });
