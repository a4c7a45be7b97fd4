import { apiVersionOf, BUILTIN_RESOURCE_TYPES } from "@atoll/kube";
import YAML from "yaml";
import { validLabelKey } from "./affinity.js";
import type { ClusterTaintPolicyDoc } from "./cluster-health.js";
import type { ResourceSelector } from "./election.js";
import type { OverridePolicyDoc } from "./overrides.js";
import type { ClusterAffinity, Placement } from "./types.js";

export const POLICY_API_VERSION = "policy.karmada.io/v1alpha1";

export interface PropagationPolicyDoc {
  apiVersion: typeof POLICY_API_VERSION;
  kind: "PropagationPolicy" | "ClusterPropagationPolicy";
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    resourceSelectors: ResourceSelector[];
    placement?: Placement;
    priority?: number;
    preemption?: "Always" | "Never";
    propagateDeps?: boolean;
    conflictResolution?: "Abort" | "Overwrite";
    suspension?: { dispatching?: boolean; dispatchingOnClusters?: { clusterNames?: string[] } };
    preserveResourcesOnDeletion?: boolean;
    failover?: { cluster?: { purgeMode?: "Gracefully" | "Directly" } };
  };
}

// biome-ignore lint/suspicious/noExplicitAny: templates are any Kubernetes object
type Loose = any;
export type TemplateDoc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: Loose };
  [k: string]: Loose;
};

/** What is wrong, and where, as Karmada's admission webhook reports it. */
export interface FieldError {
  field: string;
  message: string;
}

export class PolicyValidationError extends Error {
  readonly code = "INVALID_POLICY";
  constructor(
    readonly document: string,
    readonly errors: FieldError[],
  ) {
    super(`${document} is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  }
}

const RESERVED_NAMESPACES = ["karmada-system", "karmada-cluster"];

function affinityErrors(affinity: ClusterAffinity | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of Object.keys(affinity?.labelSelector?.matchLabels ?? {}))
    if (!validLabelKey(key))
      errors.push({
        field: `${field}.labelSelector.matchLabels`,
        message: `Invalid value: "${key}": not a valid label key`,
      });
  (affinity?.fieldSelector?.matchExpressions ?? []).forEach((term, i) => {
    const at = `${field}.fieldSelector.matchExpressions[${i}]`;
    if (!["provider", "region", "zone"].includes(term.key))
      errors.push({
        field: `${at}.key`,
        message: `Unsupported value: "${term.key}": supported values: "provider", "region", "zone"`,
      });
    if (!["In", "NotIn"].includes(term.operator))
      errors.push({
        field: `${at}.operator`,
        message: `Unsupported value: "${term.operator}": supported values: "In", "NotIn"`,
      });
  });
  return errors;
}

/** The checks Karmada's webhook makes on a placement, naming the field of each problem. */
export function placementErrors(placement: Placement | undefined, field = "spec.placement"): FieldError[] {
  if (!placement) return [];
  const errors: FieldError[] = [];
  if (placement.clusterAffinity && placement.clusterAffinities?.length)
    errors.push({
      field: `${field}.clusterAffinities`,
      message: "Invalid value: clusterAffinities can not co-exist with clusterAffinity",
    });
  errors.push(...affinityErrors(placement.clusterAffinity, `${field}.clusterAffinity`));
  const names = new Set<string>();
  (placement.clusterAffinities ?? []).forEach((term, i) => {
    const at = `${field}.clusterAffinities[${i}]`;
    if (!term.affinityName || term.affinityName.length > 32)
      errors.push({
        field: `${at}.affinityName`,
        message: `Invalid value: "${term.affinityName ?? ""}": must be 1 to 32 characters`,
      });
    else if (names.has(term.affinityName))
      errors.push({ field: `${at}.affinityName`, message: `Duplicate value: "${term.affinityName}"` });
    names.add(term.affinityName);
    errors.push(...affinityErrors(term, at));
  });
  (placement.clusterTolerations ?? []).forEach((t, i) => {
    if (t.operator && !["Equal", "Exists"].includes(t.operator))
      errors.push({
        field: `${field}.clusterTolerations[${i}].operator`,
        message: `Unsupported value: "${t.operator}": supported values: "Equal", "Exists"`,
      });
    if (t.operator === "Exists" && t.value)
      errors.push({
        field: `${field}.clusterTolerations[${i}].operator`,
        message: "Invalid value: value must be empty when operator is Exists",
      });
  });
  const spread = placement.spreadConstraints ?? [];
  const byField = new Set<string>();
  spread.forEach((c, i) => {
    const at = `${field}.spreadConstraints[${i}]`;
    if (c.spreadByField && c.spreadByLabel)
      errors.push({
        field: at,
        message: "Invalid value: spreadByLabel should not co-exist with spreadByField",
      });
    if (c.spreadByField && !["cluster", "region", "zone", "provider"].includes(c.spreadByField))
      errors.push({
        field: `${at}.spreadByField`,
        message: `Unsupported value: "${c.spreadByField}": supported values: "cluster", "region", "zone", "provider"`,
      });
    if ((c.minGroups ?? 0) < 0)
      errors.push({ field: `${at}.minGroups`, message: "Invalid value: must be greater than or equal to 0" });
    if ((c.maxGroups ?? 0) < 0)
      errors.push({ field: `${at}.maxGroups`, message: "Invalid value: must be greater than or equal to 0" });
    if ((c.maxGroups ?? 0) > 0 && (c.maxGroups ?? 0) < (c.minGroups ?? 0))
      errors.push({ field: at, message: "Invalid value: maxGroups lower than minGroups is not allowed" });
    const key = c.spreadByField ?? (c.spreadByLabel ? `label:${c.spreadByLabel}` : "cluster");
    if (byField.has(key))
      errors.push({ field: at, message: `Duplicate value: more than one spread constraint by ${key}` });
    byField.add(key);
  });
  if (spread.some((c) => c.spreadByField && c.spreadByField !== "cluster") && !byField.has("cluster"))
    errors.push({
      field: `${field}.spreadConstraints`,
      message:
        "Invalid value: the cluster spread constraint must be enabled in one of the constraints in case of SpreadByField is enabled",
    });
  const scheduling = placement.replicaScheduling;
  if (scheduling) {
    if (
      scheduling.replicaSchedulingType &&
      !["Duplicated", "Divided"].includes(scheduling.replicaSchedulingType)
    )
      errors.push({
        field: `${field}.replicaScheduling.replicaSchedulingType`,
        message: `Unsupported value: "${scheduling.replicaSchedulingType}": supported values: "Duplicated", "Divided"`,
      });
    if (
      scheduling.replicaDivisionPreference &&
      !["Aggregated", "Weighted"].includes(scheduling.replicaDivisionPreference)
    )
      errors.push({
        field: `${field}.replicaScheduling.replicaDivisionPreference`,
        message: `Unsupported value: "${scheduling.replicaDivisionPreference}": supported values: "Aggregated", "Weighted"`,
      });
    (scheduling.weightPreference?.staticWeightList ?? []).forEach((w, i) => {
      if (!Number.isInteger(w.weight) || w.weight < 1)
        errors.push({
          field: `${field}.replicaScheduling.weightPreference.staticWeightList[${i}].weight`,
          message: "Invalid value: must be greater than or equal to 1",
        });
    });
    if (
      scheduling.weightPreference?.dynamicWeight &&
      scheduling.weightPreference.dynamicWeight !== "AvailableReplicas"
    )
      errors.push({
        field: `${field}.replicaScheduling.weightPreference.dynamicWeight`,
        message: `Unsupported value: "${scheduling.weightPreference.dynamicWeight}": supported values: "AvailableReplicas"`,
      });
  }
  return errors;
}

export function propagationPolicyErrors(doc: PropagationPolicyDoc): FieldError[] {
  const errors: FieldError[] = [];
  if (!doc.metadata?.name) errors.push({ field: "metadata.name", message: "Required value" });
  const selectors = doc.spec?.resourceSelectors;
  if (!Array.isArray(selectors) || selectors.length === 0)
    errors.push({ field: "spec.resourceSelectors", message: "Required value" });
  (selectors ?? []).forEach((s, i) => {
    if (!s.apiVersion)
      errors.push({ field: `spec.resourceSelectors[${i}].apiVersion`, message: "Required value" });
    if (!s.kind) errors.push({ field: `spec.resourceSelectors[${i}].kind`, message: "Required value" });
    if (doc.kind === "PropagationPolicy" && s.namespace && s.namespace !== doc.metadata.namespace)
      errors.push({
        field: `spec.resourceSelectors[${i}].namespace`,
        message: `Invalid value: "${s.namespace}": must match the policy's namespace "${doc.metadata.namespace}"`,
      });
    if (
      doc.kind === "ClusterPropagationPolicy" &&
      s.namespace &&
      (RESERVED_NAMESPACES.includes(s.namespace) || s.namespace.startsWith("karmada-es-"))
    )
      errors.push({
        field: `spec.resourceSelectors[${i}].namespace`,
        message: `Invalid value: "${s.namespace}": reserved namespace`,
      });
    if (doc.spec.preemption === "Always" && !s.name)
      errors.push({
        field: `spec.resourceSelectors[${i}].name`,
        message: "Required value: name is required when preemption is Always",
      });
  });
  if (doc.spec?.preemption && !["Always", "Never"].includes(doc.spec.preemption))
    errors.push({
      field: "spec.preemption",
      message: `Unsupported value: "${doc.spec.preemption}": supported values: "Always", "Never"`,
    });
  if (doc.spec?.conflictResolution && !["Abort", "Overwrite"].includes(doc.spec.conflictResolution))
    errors.push({
      field: "spec.conflictResolution",
      message: `Unsupported value: "${doc.spec.conflictResolution}": supported values: "Abort", "Overwrite"`,
    });
  const suspension = doc.spec?.suspension;
  if (suspension?.dispatching !== undefined && suspension.dispatchingOnClusters)
    errors.push({
      field: "spec.suspension",
      message: "Invalid value: dispatching and dispatchingOnClusters cannot be set at the same time",
    });
  const purgeMode = doc.spec?.failover?.cluster?.purgeMode;
  if (purgeMode !== undefined && !["Gracefully", "Directly"].includes(purgeMode))
    errors.push({
      field: "spec.failover.cluster.purgeMode",
      message: `Unsupported value: "${purgeMode}": supported values: "Directly", "Gracefully"`,
    });
  errors.push(...placementErrors(doc.spec?.placement));
  return errors;
}

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/**
 * Karmada's ClusterTaintPolicy checks: at least one taint, each with a key and a known effect, no
 * two with the same key and effect, match conditions with In or NotIn, and NoExecute taints only
 * where the administrator allowed them (as Karmada's webhook refuses them by default).
 */
export function clusterTaintPolicyErrors(doc: ClusterTaintPolicyDoc, allowNoExecute: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (!doc.metadata?.name) errors.push({ field: "metadata.name", message: "Required value" });
  const taints = doc.spec?.taints;
  if (!Array.isArray(taints) || taints.length === 0)
    errors.push({ field: "spec.taints", message: "Required value: at least one taint" });
  (Array.isArray(taints) ? taints : []).forEach((taint, i) => {
    const at = `spec.taints[${i}]`;
    if (!taint?.key) errors.push({ field: `${at}.key`, message: "Required value" });
    if (!TAINT_EFFECTS.includes(taint?.effect))
      errors.push({
        field: `${at}.effect`,
        message: `Unsupported value: "${taint?.effect ?? ""}": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`,
      });
    if (taint?.effect === "NoExecute" && !allowNoExecute)
      errors.push({
        field: at,
        message:
          "Forbidden: Configuring taint with NoExecute effect is not allowed, this capability must be explicitly enabled by administrators (ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY on the query service)",
      });
    if (taints.slice(i + 1).some((other) => other?.key === taint?.key && other?.effect === taint?.effect))
      errors.push({
        field: at,
        message: `Duplicate value: Duplicate taint with the same key(${taint.key}) and effect(${taint.effect}) is not allowed`,
      });
  });
  for (const list of ["addOnConditions", "removeOnConditions"] as const)
    (doc.spec?.[list] ?? []).forEach((condition, i) => {
      const at = `spec.${list}[${i}]`;
      if (!condition?.conditionType) errors.push({ field: `${at}.conditionType`, message: "Required value" });
      if (!["In", "NotIn"].includes(condition?.operator))
        errors.push({
          field: `${at}.operator`,
          message: `Unsupported value: "${condition?.operator ?? ""}": supported values: "In", "NotIn"`,
        });
      if (!Array.isArray(condition?.statusValues) || condition.statusValues.length === 0)
        errors.push({ field: `${at}.statusValues`, message: "Required value" });
    });
  errors.push(...affinityErrors(doc.spec?.targetClusters, "spec.targetClusters"));
  return errors;
}

export function overridePolicyErrors(doc: OverridePolicyDoc): FieldError[] {
  const errors: FieldError[] = [];
  if (!doc.metadata?.name) errors.push({ field: "metadata.name", message: "Required value" });
  if (doc.spec?.overrideRules && (doc.spec.overriders || doc.spec.targetCluster))
    errors.push({
      field: "spec.overrideRules",
      message: "Invalid value: overrideRules and (overriders or targetCluster) can't co-exist",
    });
  (doc.spec?.overrideRules ?? []).forEach((rule, i) => {
    const at = `spec.overrideRules[${i}].overriders`;
    if (!rule.overriders) errors.push({ field: at, message: "Required value" });
    errors.push(...affinityErrors(rule.targetCluster, `spec.overrideRules[${i}].targetCluster`));
    (rule.overriders?.plaintext ?? []).forEach((p, j) => {
      if (!["add", "remove", "replace"].includes(p.operator))
        errors.push({
          field: `${at}.plaintext[${j}].operator`,
          message: `Unsupported value: "${p.operator}": supported values: "add", "remove", "replace"`,
        });
      if (p.operator === "remove" && p.value !== undefined)
        errors.push({
          field: `${at}.plaintext[${j}].value`,
          message: "Invalid value: value must be empty when operator is remove",
        });
      if (!p.path?.startsWith("/"))
        errors.push({
          field: `${at}.plaintext[${j}].path`,
          message: `Invalid value: "${p.path ?? ""}": must be a JSON pointer`,
        });
    });
    (rule.overriders?.imageOverrider ?? []).forEach((o, j) => {
      if (!["Registry", "Repository", "Tag"].includes(o.component))
        errors.push({
          field: `${at}.imageOverrider[${j}].component`,
          message: `Unsupported value: "${o.component}": supported values: "Registry", "Repository", "Tag"`,
        });
      if (!["add", "remove", "replace"].includes(o.operator))
        errors.push({
          field: `${at}.imageOverrider[${j}].operator`,
          message: `Unsupported value: "${o.operator}": supported values: "add", "remove", "replace"`,
        });
    });
    (rule.overriders?.fieldOverrider ?? []).forEach((o, j) => {
      if (Boolean(o.json?.length) === Boolean(o.yaml?.length))
        errors.push({
          field: `${at}.fieldOverrider[${j}]`,
          message: "Invalid value: exactly one of json or yaml must be set",
        });
    });
  });
  return errors;
}

/** The webhook's defaults: spread by cluster with minGroups 1, Divided means Weighted. */
export function withDefaults(doc: PropagationPolicyDoc): PropagationPolicyDoc {
  const placement = doc.spec.placement;
  if (!placement) return doc;
  return {
    ...doc,
    spec: {
      ...doc.spec,
      placement: {
        ...placement,
        ...(placement.spreadConstraints
          ? {
              spreadConstraints: placement.spreadConstraints.map((c) => ({
                ...c,
                ...(!c.spreadByField && !c.spreadByLabel ? { spreadByField: "cluster" as const } : {}),
                minGroups: c.minGroups || 1,
              })),
            }
          : {}),
        ...(placement.replicaScheduling
          ? {
              replicaScheduling: {
                ...placement.replicaScheduling,
                replicaSchedulingType: placement.replicaScheduling.replicaSchedulingType ?? "Divided",
                ...((placement.replicaScheduling.replicaSchedulingType ?? "Divided") === "Divided" &&
                !placement.replicaScheduling.replicaDivisionPreference
                  ? { replicaDivisionPreference: "Weighted" }
                  : {}),
              },
            }
          : {}),
      },
    },
  };
}

export interface ParsedDocuments {
  propagationPolicies: PropagationPolicyDoc[];
  overridePolicies: OverridePolicyDoc[];
  clusterTaintPolicies: ClusterTaintPolicyDoc[];
  templates: TemplateDoc[];
}

const describeDoc = (
  doc: { kind?: string; metadata?: { name?: string; namespace?: string } },
  index: number,
) =>
  `document ${index + 1} (${doc.kind ?? "no kind"} ${doc.metadata?.namespace ? `${doc.metadata.namespace}/` : ""}${doc.metadata?.name ?? "unnamed"})`;

/** Where a NUL character sits in a document, as a dotted path; undefined if nowhere. */
function nulCharacterPath(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (key.includes("\u0000")) return childPath;
    const found = nulCharacterPath(child, childPath);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Multi-document YAML as `kubectl apply -f` takes it: Karmada policies, and any other object as a
 * resource template. Every problem in every document is reported at once.
 */
export function parseDocuments(
  text: string,
  defaultNamespace = "default",
  options: { allowNoExecuteTaintPolicy?: boolean } = {},
): ParsedDocuments {
  const parsed: ParsedDocuments = {
    propagationPolicies: [],
    overridePolicies: [],
    clusterTaintPolicies: [],
    templates: [],
  };
  const problems: string[] = [];
  YAML.parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length) {
      problems.push(`document ${index + 1}: not valid YAML: ${document.errors[0]!.message}`);
      return;
    }
    const doc = document.toJSON();
    if (doc === null || doc === undefined) return;
    if (typeof doc !== "object" || !doc.apiVersion || !doc.kind || !doc.metadata?.name) {
      problems.push(`${describeDoc(doc ?? {}, index)}: apiVersion, kind and metadata.name are required`);
      return;
    }
    const nul = nulCharacterPath(doc, "");
    if (nul !== undefined) {
      problems.push(
        `${describeDoc(doc, index)}: ${nul.replaceAll("\u0000", "\\0")} contains a NUL character (\\0), which cannot be stored; remove it`,
      );
      return;
    }
    const namespaced = !["ClusterPropagationPolicy", "ClusterOverridePolicy", "ClusterTaintPolicy"].includes(
      doc.kind,
    );
    if (doc.apiVersion === POLICY_API_VERSION && namespaced && !doc.metadata.namespace)
      doc.metadata.namespace = defaultNamespace;
    if (
      doc.apiVersion === POLICY_API_VERSION &&
      (doc.kind === "PropagationPolicy" || doc.kind === "ClusterPropagationPolicy")
    ) {
      // The webhook fills a PropagationPolicy's selector namespaces with its own.
      if (doc.kind === "PropagationPolicy")
        for (const s of doc.spec?.resourceSelectors ?? []) s.namespace ||= doc.metadata.namespace;
      const errors = propagationPolicyErrors(doc);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.propagationPolicies.push(withDefaults(doc));
    } else if (
      doc.apiVersion === POLICY_API_VERSION &&
      (doc.kind === "OverridePolicy" || doc.kind === "ClusterOverridePolicy")
    ) {
      const errors = overridePolicyErrors(doc);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.overridePolicies.push(doc);
    } else if (doc.apiVersion === POLICY_API_VERSION && doc.kind === "ClusterTaintPolicy") {
      const errors = clusterTaintPolicyErrors(doc, options.allowNoExecuteTaintPolicy ?? false);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.clusterTaintPolicies.push(doc);
    } else if (doc.apiVersion === POLICY_API_VERSION) {
      problems.push(
        `${describeDoc(doc, index)}: kind ${doc.kind} is not supported; use PropagationPolicy, ClusterPropagationPolicy, OverridePolicy, ClusterOverridePolicy or ClusterTaintPolicy`,
      );
    } else {
      const type = BUILTIN_RESOURCE_TYPES.find(
        (t) => t.kind === doc.kind && apiVersionOf(t) === doc.apiVersion,
      );
      if (!doc.metadata.namespace && type?.namespaced !== false) doc.metadata.namespace = defaultNamespace;
      parsed.templates.push(doc);
    }
  });
  if (problems.length) throw new DocumentsError(problems);
  return parsed;
}

export class DocumentsError extends Error {
  readonly code = "INVALID_DOCUMENTS";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}
