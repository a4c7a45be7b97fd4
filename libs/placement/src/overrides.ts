import type { JsonObject } from "@atoll/kube";
import { applyJsonPatch, JsonPatchError, type JsonPatchOperation, readYaml } from "@atoll/kube";
import YAML from "yaml";
import { clusterMatches } from "./affinity.js";
import { implicitPriority, type ResourceSelector, type TemplateRef } from "./election.js";
import { containersPath, type ImageOverrider, imageOverridePatches } from "./image.js";

import type { ClusterAffinity, ClusterInfo } from "./types.js";

export interface PlaintextOverrider {
  path: string;
  operator: "add" | "remove" | "replace";
  value?: unknown;
}

export interface CommandArgsOverrider {
  containerName: string;
  operator: "add" | "remove";
  value?: string[];
}

export interface MetadataOverrider {
  operator: "add" | "remove" | "replace";
  value?: Record<string, string>;
}

export interface FieldOverrider {
  fieldPath: string;
  json?: { subPath: string; operator: "add" | "remove" | "replace"; value?: unknown }[];
  yaml?: { subPath: string; operator: "add" | "remove" | "replace"; value?: unknown }[];
}

export interface Overriders {
  plaintext?: PlaintextOverrider[];
  imageOverrider?: ImageOverrider[];
  commandOverrider?: CommandArgsOverrider[];
  argsOverrider?: CommandArgsOverrider[];
  labelsOverrider?: MetadataOverrider[];
  annotationsOverrider?: MetadataOverrider[];
  fieldOverrider?: FieldOverrider[];
}

export interface OverridePolicyDoc {
  kind: "OverridePolicy" | "ClusterOverridePolicy";
  metadata: { name: string; namespace?: string };
  spec: {
    resourceSelectors?: ResourceSelector[];
    overrideRules?: { targetCluster?: ClusterAffinity; overriders: Overriders }[];
    targetCluster?: ClusterAffinity;
    overriders?: Overriders;
  };
}

const escapeKey = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

function commandArgsPatches(
  manifest: JsonObject,
  field: "command" | "args",
  overrider: CommandArgsOverrider,
): JsonPatchOperation[] {
  const path = containersPath(manifest.kind);
  if (!path) return [];
  const containers = path
    .split("/")
    .slice(1)
    .reduce((o: JsonObject | undefined, k) => o?.[k], manifest) as JsonObject[] | undefined;
  return (containers ?? []).flatMap((container, i) => {
    if (container.name !== overrider.containerName) return [];
    const current: string[] = container[field] ?? [];
    const values = overrider.value ?? [];
    if (overrider.operator === "add")
      return [
        {
          op: container[field] ? "replace" : "add",
          path: `${path}/${i}/${field}`,
          value: [...current, ...values],
        },
      ] as JsonPatchOperation[];
    if (overrider.operator === "remove" && container[field])
      return [
        { op: "replace", path: `${path}/${i}/${field}`, value: current.filter((v) => !values.includes(v)) },
      ] as JsonPatchOperation[];
    return [];
  });
}

function metadataPatches(
  manifest: JsonObject,
  field: "labels" | "annotations",
  overrider: MetadataOverrider,
): JsonPatchOperation[] {
  const current: Record<string, string> | undefined = manifest.metadata?.[field];
  const patches: JsonPatchOperation[] = [];
  if (overrider.operator === "add" && !current)
    patches.push({ op: "add", path: `/metadata/${field}`, value: {} });
  for (const [key, value] of Object.entries(overrider.value ?? {})) {
    const path = `/metadata/${field}/${escapeKey(key)}`;
    const exists = current !== undefined && Object.hasOwn(current, key);
    if (overrider.operator === "add") patches.push({ op: "add", path, value });
    else if (overrider.operator === "replace" && exists) patches.push({ op: "replace", path, value });
    else if (overrider.operator === "remove" && exists) patches.push({ op: "remove", path });
  }
  return patches;
}

function fieldOverride(manifest: JsonObject, overrider: FieldOverrider): JsonObject {
  const tokens = overrider.fieldPath
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  const text = tokens.reduce((o: JsonObject | undefined, k) => o?.[k], manifest);
  if (typeof text !== "string")
    throw new JsonPatchError(`fieldOverrider: ${overrider.fieldPath} is not a string field`);
  const asYaml = Boolean(overrider.yaml?.length);
  const operations = (asYaml ? overrider.yaml : overrider.json) ?? [];
  let embedded: unknown;
  try {
    embedded = asYaml ? readYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new JsonPatchError(
      `fieldOverrider: ${overrider.fieldPath} is not valid ${asYaml ? "YAML" : "JSON"}: ${(error as Error).message}`,
    );
  }
  const patched = applyJsonPatch(
    embedded,
    operations.map((o) => ({
      op: o.operator,
      path: o.subPath,
      ...(o.operator === "remove" ? {} : { value: o.value }),
    })),
  );
  const written = asYaml ? YAML.stringify(patched) : JSON.stringify(patched);
  return applyJsonPatch(manifest, [{ op: "replace", path: overrider.fieldPath, value: written }]);
}

/** One Overriders block, in Karmada's fixed order: image, command, args, labels, annotations, fields, plaintext. */
export function applyOverriders(manifest: JsonObject, overriders: Overriders): JsonObject {
  let result = manifest;
  for (const o of overriders.imageOverrider ?? [])
    result = applyJsonPatch(result, imageOverridePatches(result as { kind: string }, o));
  for (const o of overriders.commandOverrider ?? [])
    result = applyJsonPatch(result, commandArgsPatches(result, "command", o));
  for (const o of overriders.argsOverrider ?? [])
    result = applyJsonPatch(result, commandArgsPatches(result, "args", o));
  for (const o of overriders.labelsOverrider ?? [])
    result = applyJsonPatch(result, metadataPatches(result, "labels", o));
  for (const o of overriders.annotationsOverrider ?? [])
    result = applyJsonPatch(result, metadataPatches(result, "annotations", o));
  for (const o of overriders.fieldOverrider ?? []) result = fieldOverride(result, o);
  if (overriders.plaintext?.length)
    result = applyJsonPatch(
      result,
      overriders.plaintext.map((p) => ({
        op: p.operator,
        path: p.path,
        ...(p.operator === "remove" ? {} : { value: p.value }),
      })),
    );
  return result;
}

/** An override rule as it applies to a manifest, with the policy it comes from. */
export interface PlannedRule {
  /** "<kind>/<namespace>/<name>" of its policy, as a work's applied overrides name it. */
  policy: string;
  targetCluster?: ClusterAffinity;
  overriders: Overriders;
}

/**
 * The override rules a manifest is subject to, in the order they apply, whatever the cluster:
 * ClusterOverridePolicies, then the manifest namespace's OverridePolicies; within each, least
 * specific first (so the most specific is applied last and wins), then by name; each policy's
 * rules in order. Worked out once per manifest, not once per cluster it goes to.
 */
export function overridePlan(manifest: JsonObject, policies: OverridePolicyDoc[]): PlannedRule[] {
  const template = manifest as TemplateRef;
  const plan: PlannedRule[] = [];
  for (const kind of ["ClusterOverridePolicy", "OverridePolicy"] as const) {
    const candidates = policies
      .filter((p) => p.kind === kind)
      .filter(
        (p) =>
          kind === "ClusterOverridePolicy" ||
          (p.metadata.namespace ?? "") === (template.metadata.namespace ?? ""),
      )
      .map((p) => ({
        policy: p,
        priority: p.spec.resourceSelectors?.length
          ? implicitPriority(template, { resourceSelectors: p.spec.resourceSelectors })
          : 1,
      }))
      .filter((c) => c.priority > 0)
      .sort((a, b) => a.priority - b.priority || (a.policy.metadata.name < b.policy.metadata.name ? -1 : 1));
    for (const { policy } of candidates) {
      const name = `${kind}/${policy.metadata.namespace ? `${policy.metadata.namespace}/` : ""}${policy.metadata.name}`;
      const rules =
        policy.spec.overrideRules ??
        (policy.spec.overriders
          ? [{ targetCluster: policy.spec.targetCluster, overriders: policy.spec.overriders }]
          : []);
      for (const rule of rules)
        plan.push({
          policy: name,
          ...(rule.targetCluster ? { targetCluster: rule.targetCluster } : {}),
          overriders: rule.overriders,
        });
    }
  }
  return plan;
}

/** The rules of a plan that target a cluster, in order. */
export function rulesFor(plan: PlannedRule[], cluster: ClusterInfo): PlannedRule[] {
  return plan.filter((rule) => !rule.targetCluster || clusterMatches(cluster, rule.targetCluster));
}

/** A manifest with rules applied in order, and the policies they came from, each once. */
export function applyRules(
  manifest: JsonObject,
  rules: PlannedRule[],
): { manifest: JsonObject; applied: string[] } {
  let result = manifest;
  const applied: string[] = [];
  for (const rule of rules) {
    result = applyOverriders(result, rule.overriders);
    if (applied.at(-1) !== rule.policy) applied.push(rule.policy);
  }
  return { manifest: result, applied };
}
