/**
 * What Karmada's admission refuses, rule by rule, naming the same field paths: the CRD schema
 * (required fields, enums, minimums), `pkg/util/validation` and the policy webhooks. The messages
 * are Atoll's own; the paths and the documents refused are Karmada's.
 */
import { validLabelKey, validLabelValue } from "@atoll/kube";
import type { ClusterTaintPolicyDoc } from "./cluster-health.js";
import type { OverridePolicyDoc, Overriders } from "./overrides.js";
import type { PropagationPolicyDoc } from "./propagation-policy.js";
import type { ClusterAffinity, ClusterAffinityTerm, Placement, ReplicaScheduling } from "./types.js";

/** What is wrong, and where, as Karmada's admission reports it. */
export interface FieldError {
  field: string;
  message: string;
}

const shown = (value: unknown) => JSON.stringify(value) ?? "null";
const invalid = (field: string, value: unknown, detail: string): FieldError => ({
  field,
  message: `Invalid value: ${shown(value)}: ${detail}`,
});
const unsupported = (field: string, value: unknown, supported: string[]): FieldError => ({
  field,
  message: `Unsupported value: ${shown(value)}: supported values: ${supported.map((s) => `"${s}"`).join(", ")}`,
});
const required = (field: string, detail = ""): FieldError => ({
  field,
  message: `Required value${detail ? `: ${detail}` : ""}`,
});

const LABEL_KEY_RULE =
  "must be a qualified name: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
const LABEL_VALUE_RULE =
  "must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

/** RFC 6901: empty, or '/'-separated tokens in which '~' is followed by 0 or 1. */
export function validJsonPointer(pointer: string): boolean {
  return pointer === "" || (pointer.startsWith("/") && !/~(?![01])/.test(pointer));
}

function enumError(field: string, value: unknown, allowed: string[]): FieldError[] {
  return value === undefined || allowed.includes(value as string) ? [] : [unsupported(field, value, allowed)];
}

/** ValidateClusterAffinity: field selector keys provider, region or zone, operators In or NotIn. */
function clusterAffinityErrors(affinity: ClusterAffinity | undefined, field: string): FieldError[] {
  const labelErrors = labelSelectorErrors(affinity?.labelSelector, `${field}.labelSelector`);
  return [...labelErrors, ...fieldSelectorErrors(affinity, field)];
}

function fieldSelectorErrors(affinity: ClusterAffinity | undefined, field: string): FieldError[] {
  const expressions = affinity?.fieldSelector?.matchExpressions ?? [];
  for (const term of expressions) {
    if (!["provider", "region", "zone"].includes(term.key))
      return [
        invalid(
          `${field}.fieldSelector`,
          affinity!.fieldSelector,
          `unsupported key "${term.key}", must be provider, region, or zone`,
        ),
      ];
    if (!["In", "NotIn"].includes(term.operator))
      return [
        invalid(
          `${field}.fieldSelector`,
          affinity!.fieldSelector,
          `unsupported operator "${term.operator}", must be In or NotIn`,
        ),
      ];
  }
  return [];
}

const emptyAffinity = (a: ClusterAffinity) =>
  !a.labelSelector && !a.fieldSelector && !a.clusterNames?.length && !a.exclude?.length;

/** util.IsOverflowSchedulingAllowed: Divided, and Aggregated or dynamic weights. */
function overflowAllowed(scheduling: ReplicaScheduling | undefined): boolean {
  if ((scheduling?.replicaSchedulingType ?? "Divided") !== "Divided" || !scheduling) return false;
  return (
    scheduling.replicaDivisionPreference === "Aggregated" ||
    (scheduling.replicaDivisionPreference === "Weighted" &&
      Boolean(scheduling.weightPreference?.dynamicWeight))
  );
}

/** An affinity term's name: 1 to 32 characters (schema) and a label key (webhook). */
function affinityNameErrors(name: unknown, field: string): FieldError[] {
  if (typeof name !== "string" || name.length === 0) return [required(field)];
  if (name.length > 32) return [invalid(field, name, "must be no more than 32 characters")];
  return validLabelKey(name) ? [] : [invalid(field, name, LABEL_KEY_RULE)];
}

function clusterAffinitiesErrors(terms: ClusterAffinityTerm[], field: string): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set<string>();
  terms.forEach((term, i) => {
    const at = `${field}[${i}]`;
    const nameErrors = affinityNameErrors(term.affinityName, `${at}.affinityName`);
    errors.push(...nameErrors.map((e) => (e.message.startsWith("Required") ? e : { ...e, field: at })));
    if (names.has(term.affinityName))
      errors.push(
        invalid(field, term.affinityName, "each affinity term in a policy must have a unique name"),
      );
    names.add(term.affinityName);
    errors.push(...clusterAffinityErrors(term, at));
    if (!term.overflowAffinities) return;
    if (emptyAffinity(term))
      errors.push(
        invalid(
          `${at}.overflowAffinities`,
          term.overflowAffinities,
          "overflowAffinities need the term's own cluster affinity to be set",
        ),
      );
    const overflowNames = new Set([term.affinityName]);
    term.overflowAffinities.forEach((overflow, j) => {
      const path = `${at}.overflowAffinities[${j}]`;
      errors.push(...affinityNameErrors(overflow.affinityName, `${path}.affinityName`));
      if (overflowNames.has(overflow.affinityName))
        errors.push(
          invalid(
            `${path}.affinityName`,
            overflow.affinityName,
            "must be unique among the overflow tiers and differ from the term's own affinityName",
          ),
        );
      overflowNames.add(overflow.affinityName);
      errors.push(...clusterAffinityErrors(overflow, path));
    });
  });
  return errors;
}

function spreadErrors(placement: Placement, field: string): FieldError[] {
  const errors: FieldError[] = [];
  const constraints = placement.spreadConstraints ?? [];
  const byField = new Map<string, boolean>();
  constraints.forEach((c, i) => {
    const at = `${field}[${i}]`;
    errors.push(
      ...enumError(`${at}.spreadByField`, c.spreadByField, ["cluster", "region", "zone", "provider"]),
    );
    if (c.spreadByField && c.spreadByLabel)
      errors.push(invalid(at, c, "spreadByLabel and spreadByField cannot be set together"));
    if ((c.minGroups ?? 0) < 0) errors.push(invalid(at, c, "minGroups cannot be lower than 0"));
    if ((c.maxGroups ?? 0) < 0) errors.push(invalid(at, c, "maxGroups cannot be lower than 0"));
    if ((c.maxGroups ?? 0) > 0 && (c.maxGroups ?? 0) < (c.minGroups ?? 0))
      errors.push(invalid(at, c, "maxGroups cannot be lower than minGroups"));
    if (c.spreadByField) {
      if (byField.get(c.spreadByField) === false) {
        errors.push(invalid(field, constraints, `only one ${c.spreadByField} spread constraint is allowed`));
        byField.set(c.spreadByField, true);
      } else if (!byField.has(c.spreadByField)) byField.set(c.spreadByField, false);
    }
  });
  if (byField.size > 0 && !byField.has("cluster"))
    errors.push(
      invalid(
        field,
        constraints,
        "a spread by region, zone or provider needs a cluster spread constraint too, which says how many clusters to choose",
      ),
    );
  return errors;
}

function replicaSchedulingErrors(scheduling: ReplicaScheduling | undefined, field: string): FieldError[] {
  if (!scheduling) return [];
  const errors: FieldError[] = [
    ...enumError(`${field}.replicaSchedulingType`, scheduling.replicaSchedulingType, [
      "Duplicated",
      "Divided",
    ]),
    ...enumError(`${field}.replicaDivisionPreference`, scheduling.replicaDivisionPreference, [
      "Aggregated",
      "Weighted",
    ]),
    ...enumError(`${field}.weightPreference.dynamicWeight`, scheduling.weightPreference?.dynamicWeight, [
      "AvailableReplicas",
    ]),
  ];
  (scheduling.weightPreference?.staticWeightList ?? []).forEach((w, i) => {
    const at = `${field}.weightPreference.staticWeightList[${i}]`;
    if (!Number.isSafeInteger(w.weight) || w.weight < 1)
      errors.push(invalid(`${at}.weight`, w.weight, "must be a whole number of at least 1"));
    errors.push(...clusterAffinityErrors(w.targetCluster, `${at}.targetCluster`));
  });
  return errors;
}

/** ValidatePlacement, with the schema's enums and minimums. */
export function placementErrors(placement: Placement | undefined, field = "spec.placement"): FieldError[] {
  if (!placement) return [];
  const errors: FieldError[] = [];
  if (placement.clusterAffinity && placement.clusterAffinities)
    errors.push(
      invalid(field, "clusterAffinity", "clusterAffinities and clusterAffinity cannot be set together"),
    );
  const allowOverflow = overflowAllowed(placement.replicaScheduling);
  (placement.clusterAffinities ?? []).forEach((term, i) => {
    if (term.overflowAffinities && !allowOverflow)
      errors.push(
        invalid(
          `${field}.clusterAffinities[${i}].overflowAffinities`,
          term.overflowAffinities,
          "overflowAffinities work only with Divided replicas, Aggregated or weighted by AvailableReplicas",
        ),
      );
  });
  errors.push(...clusterAffinityErrors(placement.clusterAffinity, `${field}.clusterAffinity`));
  errors.push(...clusterAffinitiesErrors(placement.clusterAffinities ?? [], `${field}.clusterAffinities`));
  errors.push(...spreadErrors(placement, `${field}.spreadConstraints`));
  const workloadAffinity = (
    placement as {
      workloadAffinity?: {
        affinity?: { groupByLabelKey?: string };
        antiAffinity?: { groupByLabelKey?: string };
      };
    }
  ).workloadAffinity;
  for (const side of ["affinity", "antiAffinity"] as const) {
    const key = workloadAffinity?.[side]?.groupByLabelKey;
    if (workloadAffinity?.[side] && !validLabelKey(key ?? ""))
      errors.push(invalid(`${field}.workloadAffinity.${side}.groupByLabelKey`, key ?? "", LABEL_KEY_RULE));
  }
  if (
    workloadAffinity?.affinity &&
    workloadAffinity.antiAffinity &&
    workloadAffinity.affinity.groupByLabelKey === workloadAffinity.antiAffinity.groupByLabelKey
  )
    errors.push(
      invalid(
        `${field}.workloadAffinity`,
        workloadAffinity,
        "affinity and antiAffinity need different groupByLabelKeys",
      ),
    );
  // Karmada takes any toleration operator but the Lt and Gt that Kubernetes added for nodes.
  (placement.clusterTolerations ?? []).forEach((t, i) => {
    if ((t.operator as string) === "Lt" || (t.operator as string) === "Gt")
      errors.push(
        unsupported(`${field}.clusterTolerations[${i}].operator`, t.operator, ["", "Exists", "Equal"]),
      );
  });
  errors.push(...replicaSchedulingErrors(placement.replicaScheduling, `${field}.replicaScheduling`));
  return errors;
}

const RESERVED_NAMESPACES = ["karmada-system", "karmada-cluster"];

/** A selector's namespace must be the policy's own (namespaced policies only). */
function selectorNamespaceErrors(
  selectors: { namespace?: string }[] | undefined,
  policyNamespace: string | undefined,
): FieldError[] {
  if (!policyNamespace) return [];
  return (selectors ?? []).flatMap((s, i) =>
    (s.namespace ?? "") === policyNamespace
      ? []
      : [
          invalid(
            `spec.resourceSelectors[${i}].namespace`,
            s.namespace ?? "",
            `a resource selector must name the policy's own namespace "${policyNamespace}"`,
          ),
        ],
  );
}

interface FailoverSpec {
  application?: {
    decisionConditions?: { tolerationSeconds?: number };
    purgeMode?: string;
    gracePeriodSeconds?: number;
    statePreservation?: { rules?: { aliasLabelName?: string }[] };
  };
  cluster?: { purgeMode?: string; statePreservation?: { rules?: { aliasLabelName?: string }[] } };
}

function statePreservationErrors(
  preservation: { rules?: { aliasLabelName?: string }[] } | undefined,
  field: string,
): FieldError[] {
  return (preservation?.rules ?? []).flatMap((rule, i) =>
    validLabelKey(rule.aliasLabelName ?? "")
      ? []
      : [invalid(`${field}.rules[${i}].aliasLabelName`, rule.aliasLabelName ?? "", LABEL_KEY_RULE)],
  );
}

function failoverErrors(failover: FailoverSpec | undefined): FieldError[] {
  if (!failover) return [];
  const errors: FieldError[] = [];
  const application = failover.application;
  if (application) {
    const at = "spec.failover.application";
    errors.push(...enumError(`${at}.purgeMode`, application.purgeMode, ["Directly", "Gracefully", "Never"]));
    const toleration = application.decisionConditions?.tolerationSeconds;
    if (toleration !== undefined && toleration < 0)
      errors.push(invalid(`${at}.decisionConditions.tolerationSeconds`, toleration, "must be 0 or more"));
    const purgeMode = application.purgeMode ?? "Gracefully";
    const grace = application.gracePeriodSeconds;
    if (purgeMode !== "Gracefully" && grace !== undefined)
      errors.push(invalid(`${at}.gracePeriodSeconds`, grace, "applies only when purgeMode is Gracefully"));
    if (grace !== undefined && grace <= 0)
      errors.push(invalid(`${at}.gracePeriodSeconds`, grace, "must be more than 0"));
    errors.push(...statePreservationErrors(application.statePreservation, `${at}.statePreservation`));
  }
  if (failover.cluster) {
    errors.push(
      ...enumError("spec.failover.cluster.purgeMode", failover.cluster.purgeMode, ["Directly", "Gracefully"]),
    );
    errors.push(
      ...statePreservationErrors(
        failover.cluster.statePreservation,
        "spec.failover.cluster.statePreservation",
      ),
    );
  }
  return errors;
}

/** ValidatePropagationSpec and the (Cluster)PropagationPolicy schema and webhook. */
export function propagationPolicyErrors(doc: PropagationPolicyDoc): FieldError[] {
  const errors: FieldError[] = [];
  const spec = (doc.spec ?? {}) as PropagationPolicyDoc["spec"] & {
    failover?: FailoverSpec;
    propagateDeps?: boolean;
    activationPreference?: string;
  };
  if (!doc.metadata?.name) errors.push(required("metadata.name"));
  errors.push(...placementErrors(spec.placement));
  if (spec.failover?.application && !spec.propagateDeps)
    errors.push(invalid("spec.propagateDeps", false, "application failover needs propagateDeps: true"));
  errors.push(...failoverErrors(spec.failover));
  const selectors = spec.resourceSelectors;
  if (!Array.isArray(selectors) || selectors.length === 0)
    errors.push(required("spec.resourceSelectors", "at least one resource selector"));
  (selectors ?? []).forEach((s, i) => {
    if (!s.apiVersion) errors.push(required(`spec.resourceSelectors[${i}].apiVersion`));
    if (!s.kind) errors.push(required(`spec.resourceSelectors[${i}].kind`));
    errors.push(...labelSelectorErrors(s.labelSelector, `spec.resourceSelectors[${i}].labelSelector`));
    if (
      doc.kind === "ClusterPropagationPolicy" &&
      s.namespace &&
      (RESERVED_NAMESPACES.includes(s.namespace) || s.namespace.startsWith("karmada-es-"))
    )
      errors.push(
        invalid(`spec.resourceSelectors[${i}].namespace`, s.namespace, "a namespace Karmada reserves"),
      );
  });
  if (doc.kind === "PropagationPolicy")
    errors.push(...selectorNamespaceErrors(selectors, doc.metadata?.namespace));
  if (spec.preemption === "Always")
    (selectors ?? []).forEach((s, i) => {
      if (!s.name)
        errors.push(
          invalid(
            `spec.resourceSelectors[${i}].name`,
            "",
            "with preemption Always every selector names its resource, or it could take over templates it never meant to",
          ),
        );
    });
  const suspension = spec.suspension;
  if (suspension?.dispatching === true && (suspension.dispatchingOnClusters?.clusterNames?.length ?? 0) > 0)
    // Karmada's webhook names the path twice (spec.suspension.suspension); kept so tools agree.
    errors.push(
      invalid(
        "spec.suspension.suspension",
        suspension,
        "dispatching and dispatchingOnClusters.clusterNames cannot be set together",
      ),
    );
  errors.push(...enumError("spec.preemption", spec.preemption, ["Always", "Never"]));
  errors.push(...enumError("spec.conflictResolution", spec.conflictResolution, ["Abort", "Overwrite"]));
  errors.push(...enumError("spec.activationPreference", spec.activationPreference, ["Lazy"]));
  if (
    spec.priority !== undefined &&
    (!Number.isInteger(spec.priority) || Math.abs(spec.priority) > 2 ** 31 - 1)
  )
    errors.push(invalid("spec.priority", spec.priority, "must be a 32-bit whole number"));
  return errors;
}

const OVERRIDE_OPERATORS = ["add", "remove", "replace"];

function metadataErrors(
  values: Record<string, string> | undefined,
  field: string,
  labels: boolean,
): FieldError[] {
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(values ?? {})) {
    if (!validLabelKey(key)) errors.push(invalid(field, key, LABEL_KEY_RULE));
    if (labels && !validLabelValue(String(value)))
      errors.push(invalid(`${field}[${key}]`, value, LABEL_VALUE_RULE));
    size += key.length + String(value).length;
  }
  if (!labels && size > 256 * 1024)
    errors.push({ field, message: "Too long: annotations may take 262144 bytes at most" });
  return errors;
}

function patchErrors(
  patches: { subPath?: string; operator?: string; value?: unknown }[] | undefined,
  field: string,
): FieldError[] {
  return (patches ?? []).flatMap((patch, i) => {
    const at = `${field}[${i}]`;
    const errors = enumError(`${at}.operator`, patch.operator, OVERRIDE_OPERATORS);
    if (!validJsonPointer(patch.subPath ?? ""))
      errors.push(invalid(`${at}.subPath`, patch.subPath, "must be a JSON pointer (RFC 6901)"));
    if ((patch.operator === "add" || patch.operator === "replace") && patch.value === undefined)
      errors.push(invalid(`${at}.value`, null, "add and replace need a value"));
    if (patch.operator === "remove" && patch.value !== undefined)
      errors.push(invalid(`${at}.value`, patch.value, "remove takes no value"));
    return errors;
  });
}

function overridersErrors(overriders: Overriders, at: string): FieldError[] {
  const errors: FieldError[] = [];
  (overriders.plaintext ?? []).forEach((p, j) => {
    errors.push(...enumError(`${at}.plaintext[${j}].operator`, p.operator, OVERRIDE_OPERATORS));
    if (!p.path) errors.push(required(`${at}.plaintext[${j}].path`));
  });
  (overriders.imageOverrider ?? []).forEach((o, j) => {
    errors.push(
      ...enumError(`${at}.imageOverrider[${j}].component`, o.component, ["Registry", "Repository", "Tag"]),
    );
    errors.push(...enumError(`${at}.imageOverrider[${j}].operator`, o.operator, OVERRIDE_OPERATORS));
    if (o.predicate && !validJsonPointer(o.predicate.path ?? ""))
      errors.push(
        invalid(
          `${at}.imageOverrider[${j}].predicate.path`,
          o.predicate.path,
          "must be a JSON pointer (RFC 6901)",
        ),
      );
  });
  for (const list of ["commandOverrider", "argsOverrider"] as const)
    (overriders[list] ?? []).forEach((o, j) => {
      if (!o.containerName) errors.push(required(`${at}.${list}[${j}].containerName`));
      errors.push(...enumError(`${at}.${list}[${j}].operator`, o.operator, ["add", "remove"]));
    });
  (overriders.labelsOverrider ?? []).forEach((o, j) => {
    errors.push(...metadataErrors(o.value, `${at}.labelsOverrider[${j}].value`, true));
  });
  (overriders.annotationsOverrider ?? []).forEach((o, j) => {
    errors.push(...metadataErrors(o.value, `${at}.annotationsOverrider[${j}].value`, false));
  });
  (overriders.fieldOverrider ?? []).forEach((o, j) => {
    const path = `${at}.fieldOverrider[${j}]`;
    if (o.json?.length && o.yaml?.length) errors.push(invalid(path, o, "set json or yaml, not both"));
    if (!o.json?.length && !o.yaml?.length) errors.push(required(path, "set json or yaml"));
    if (!validJsonPointer(o.fieldPath ?? ""))
      errors.push(invalid(`${path}.fieldPath`, o.fieldPath, "must be a JSON pointer (RFC 6901)"));
    errors.push(...patchErrors(o.json, `${path}.json`), ...patchErrors(o.yaml, `${path}.yaml`));
  });
  return errors;
}

const hasOverriders = (o: Overriders | undefined) =>
  Boolean(
    o &&
      (o.plaintext?.length ||
        o.imageOverrider?.length ||
        o.commandOverrider?.length ||
        o.argsOverrider?.length ||
        o.labelsOverrider?.length ||
        o.annotationsOverrider?.length),
  );

/** ValidateOverrideSpec and the (Cluster)OverridePolicy schema. */
export function overridePolicyErrors(doc: OverridePolicyDoc): FieldError[] {
  const errors: FieldError[] = [];
  const spec = doc.spec ?? {};
  if (!doc.metadata?.name) errors.push(required("metadata.name"));
  if (spec.targetCluster) errors.push(...clusterAffinityErrors(spec.targetCluster, "spec.targetCluster"));
  if (spec.targetCluster && spec.overrideRules)
    errors.push(
      invalid(
        "spec.targetCluster",
        spec.targetCluster,
        "overrideRules and targetCluster cannot be set together",
      ),
    );
  if (hasOverriders(spec.overriders) && spec.overrideRules)
    errors.push(
      invalid("spec.overriders", spec.overriders, "overrideRules and overriders cannot be set together"),
    );
  (spec.overrideRules ?? []).forEach((rule, i) => {
    const at = `spec.overrideRules[${i}]`;
    if (!rule.overriders) errors.push(required(`${at}.overriders`));
    else errors.push(...overridersErrors(rule.overriders, `${at}.overriders`));
    errors.push(...clusterAffinityErrors(rule.targetCluster, `${at}.targetCluster`));
  });
  if (spec.overriders) errors.push(...overridersErrors(spec.overriders, "spec.overriders"));
  if (doc.kind === "OverridePolicy")
    errors.push(...selectorNamespaceErrors(spec.resourceSelectors, doc.metadata?.namespace));
  return errors;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const RBAC_KINDS = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

const dnsSubdomain = (name: string) =>
  name.length <= 253 && name.split(".").every((part) => DNS_LABEL.test(part));

/**
 * The name and namespace rules kube-apiserver applies to an object: a DNS-1123 label for a
 * Namespace and for every namespace, a DNS-1035 label for a Service, a path segment for RBAC
 * objects, a DNS-1123 subdomain for everything else (Karmada's policies included).
 */
export function objectMetaErrors(doc: {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
}): FieldError[] {
  const errors: FieldError[] = [];
  const { name, namespace } = doc.metadata ?? {};
  if (typeof name !== "string" || name === "") errors.push(required("metadata.name"));
  else if (doc.kind === "Namespace") {
    if (name.length > 63 || !DNS_LABEL.test(name))
      errors.push(
        invalid(
          "metadata.name",
          name,
          "a namespace name is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
      );
  } else if (doc.kind === "Service") {
    if (name.length > 63 || !DNS_1035_LABEL.test(name))
      errors.push(
        invalid(
          "metadata.name",
          name,
          "a Service name is at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
        ),
      );
  } else if (RBAC_KINDS.includes(doc.kind as string)) {
    if (name === "." || name === ".." || /[/%]/.test(name))
      errors.push(invalid("metadata.name", name, "may not be '.' or '..' nor contain '/' or '%'"));
  } else if (!dnsSubdomain(name))
    errors.push(
      invalid(
        "metadata.name",
        name,
        "must be at most 253 lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit",
      ),
    );
  if (
    namespace !== undefined &&
    (typeof namespace !== "string" || namespace.length > 63 || !DNS_LABEL.test(namespace))
  )
    errors.push(
      invalid(
        "metadata.namespace",
        namespace,
        "a namespace name is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
      ),
    );
  return errors;
}

const LABEL_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

/** metav1.ValidateLabelSelector: label keys and values, operators, and values only where they fit. */
export function labelSelectorErrors(
  selector:
    | {
        matchLabels?: Record<string, unknown>;
        matchExpressions?: { key?: string; operator?: string; values?: unknown[] }[];
      }
    | undefined,
  field: string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (!validLabelKey(key)) errors.push(invalid(`${field}.matchLabels`, key, LABEL_KEY_RULE));
    if (typeof value !== "string" || !validLabelValue(value))
      errors.push(invalid(`${field}.matchLabels`, value, LABEL_VALUE_RULE));
  }
  (selector?.matchExpressions ?? []).forEach((e, i) => {
    const at = `${field}.matchExpressions[${i}]`;
    if (!validLabelKey(e.key ?? "")) errors.push(invalid(`${at}.key`, e.key ?? "", LABEL_KEY_RULE));
    if (!LABEL_OPERATORS.includes(e.operator ?? ""))
      errors.push(unsupported(`${at}.operator`, e.operator ?? "", LABEL_OPERATORS));
    const values = e.values ?? [];
    if ((e.operator === "In" || e.operator === "NotIn") && values.length === 0)
      errors.push(required(`${at}.values`, "In and NotIn need at least one value"));
    if ((e.operator === "Exists" || e.operator === "DoesNotExist") && values.length > 0)
      errors.push(invalid(`${at}.values`, values, "Exists and DoesNotExist take no values"));
  });
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
  if (!doc.metadata?.name) errors.push(required("metadata.name"));
  const taints = doc.spec?.taints;
  if (!Array.isArray(taints) || taints.length === 0)
    errors.push(required("spec.taints", "at least one taint"));
  (Array.isArray(taints) ? taints : []).forEach((taint, i) => {
    const at = `spec.taints[${i}]`;
    if (!taint?.key) errors.push(required(`${at}.key`));
    if (!TAINT_EFFECTS.includes(taint?.effect))
      errors.push(unsupported(`${at}.effect`, taint?.effect ?? "", TAINT_EFFECTS));
    if (taint?.effect === "NoExecute" && !allowNoExecute)
      errors.push({
        field: at,
        message:
          "Forbidden: a NoExecute taint can evict workloads, so an administrator must allow it first (ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY on the query service)",
      });
    if (taints.slice(i + 1).some((other) => other?.key === taint?.key && other?.effect === taint?.effect))
      errors.push({
        field: at,
        message: `Duplicate value: another taint has the key ${taint.key} and the effect ${taint.effect}`,
      });
  });
  for (const list of ["addOnConditions", "removeOnConditions"] as const)
    (doc.spec?.[list] ?? []).forEach((condition, i) => {
      const at = `spec.${list}[${i}]`;
      if (!condition?.conditionType) errors.push(required(`${at}.conditionType`));
      errors.push(...enumError(`${at}.operator`, condition?.operator ?? "", ["In", "NotIn"]));
      if (!Array.isArray(condition?.statusValues) || condition.statusValues.length === 0)
        errors.push(required(`${at}.statusValues`));
    });
  errors.push(...clusterAffinityErrors(doc.spec?.targetClusters, "spec.targetClusters"));
  return errors;
}
