import { create, fromJson, type JsonValue, type SyncRule, SyncRuleSchema, toJson } from "@atoll/contracts";
import {
  apiVersionOf,
  BUILTIN_RESOURCE_TYPES,
  cloneJson,
  parseFieldSelector,
  parseLabelSelector,
  type ResourceType,
  readYaml,
} from "@atoll/kube";

export class SyncRulesError extends Error {
  readonly code = "INVALID_SYNC_RULES";
}

/** One reflector's worth of work: a resource type, optionally one namespace, and its filters. */
export interface ReflectorPlan {
  type: ResourceType;
  namespace?: string;
  labelSelector: string;
  fieldSelector: string;
  trimPaths: string[];
}

export function defaultSyncRules(): SyncRule[] {
  return BUILTIN_RESOURCE_TYPES.map((t) =>
    create(SyncRuleSchema, { apiVersion: apiVersionOf(t), resource: t.resource }),
  );
}

const strings = (value: unknown, field: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new SyncRulesError(`${field}: must be a list of strings`);
  return value as string[];
};

const optionalString = (value: unknown, field: string): string => {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new SyncRulesError(`${field}: must be a string`);
  return value;
};

/**
 * Reads sync rules from YAML or JSON:
 *
 *   rules:
 *     - apiVersion: apps/v1
 *       resource: deployments        # or "*" for every resource of apps/v1
 *       namespaces: { include: [prod], exclude: [] }
 *       labelSelector: tier=backend
 *       fieldSelector: status.phase!=Succeeded
 *       trim: [status.conditions]
 */
export function parseSyncRules(text: string): SyncRule[] {
  let document: unknown;
  try {
    document = readYaml(text);
  } catch (error) {
    throw new SyncRulesError(`sync rules were not read: ${(error as Error).message}`);
  }
  const list = (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new SyncRulesError('sync rules need a top-level "rules" list');
  const rules = list.map((raw, i) => {
    const field = `rules[${i}]`;
    if (raw === null || typeof raw !== "object") throw new SyncRulesError(`${field}: must be a mapping`);
    const r = raw as Record<string, unknown>;
    const namespaces = (r.namespaces ?? {}) as Record<string, unknown>;
    return create(SyncRuleSchema, {
      apiVersion: optionalString(r.apiVersion, `${field}.apiVersion`),
      resource: optionalString(r.resource, `${field}.resource`),
      includeNamespaces: strings(namespaces.include, `${field}.namespaces.include`),
      excludeNamespaces: strings(namespaces.exclude, `${field}.namespaces.exclude`),
      labelSelector: optionalString(r.labelSelector, `${field}.labelSelector`),
      fieldSelector: optionalString(r.fieldSelector, `${field}.fieldSelector`),
      trimPaths: strings(r.trim, `${field}.trim`),
    });
  });
  validateSyncRules(rules);
  return rules;
}

/** Checks each rule on its own; overlaps need discovery and are checked by planReflectors. */
export function validateSyncRules(rules: SyncRule[]): void {
  rules.forEach((rule, i) => {
    const field = `rules[${i}]`;
    if (!rule.apiVersion) throw new SyncRulesError(`${field}.apiVersion: required, e.g. "apps/v1"`);
    if (!rule.resource)
      throw new SyncRulesError(`${field}.resource: required, a plural resource name or "*"`);
    if (rule.includeNamespaces.length > 0 && rule.excludeNamespaces.length > 0) {
      throw new SyncRulesError(`${field}.namespaces: give include or exclude, not both`);
    }
    try {
      parseLabelSelector(rule.labelSelector);
    } catch (error) {
      throw new SyncRulesError(`${field}.labelSelector: ${(error as Error).message}`);
    }
    try {
      parseFieldSelector(rule.fieldSelector);
    } catch (error) {
      throw new SyncRulesError(`${field}.fieldSelector: ${(error as Error).message}`);
    }
  });
}

/**
 * Expands rules against what the cluster serves. Two rules may not cover the same resource in
 * the same namespace: each reflector's full list sweeps its scope, so overlaps would delete each
 * other's rows. Rules naming nothing served are reported, not fatal (a CRD may come later).
 */
export function planReflectors(
  rules: SyncRule[],
  served: ResourceType[],
): { plans: ReflectorPlan[]; unmatched: number[] } {
  const plans: ReflectorPlan[] = [];
  const unmatched: number[] = [];
  // Per resource type: the rule covering all namespaces, and the rules covering single ones.
  const claims = new Map<string, { all?: number; namespaces: Map<string, number> }>();
  const claim = (type: ResourceType, namespace: string | undefined, index: number) => {
    const key = `${type.group}/${type.resource}`;
    const entry = claims.get(key) ?? { namespaces: new Map<string, number>() };
    claims.set(key, entry);
    const others = [
      entry.all,
      ...(namespace === undefined ? entry.namespaces.values() : [entry.namespaces.get(namespace)]),
    ];
    const clash = others.find((owner) => owner !== undefined && owner !== index);
    if (clash !== undefined) {
      throw new SyncRulesError(
        `rules[${clash}] and rules[${index}] both sync ${apiVersionOf(type)} ${type.resource}${namespace ? ` in namespace ${namespace}` : ""}; merge them into one rule`,
      );
    }
    if (namespace === undefined) entry.all = index;
    else entry.namespaces.set(namespace, index);
  };
  rules.forEach((rule, index) => {
    const types = served.filter(
      (t) => apiVersionOf(t) === rule.apiVersion && (rule.resource === "*" || rule.resource === t.resource),
    );
    if (types.length === 0) unmatched.push(index);
    for (const type of types) {
      const namespaces =
        type.namespaced && rule.includeNamespaces.length > 0 ? rule.includeNamespaces : [undefined];
      const excluded = type.namespaced ? rule.excludeNamespaces.map((ns) => `metadata.namespace!=${ns}`) : [];
      for (const namespace of namespaces) {
        claim(type, namespace, index);
        plans.push({
          type,
          ...(namespace !== undefined ? { namespace } : {}),
          labelSelector: rule.labelSelector,
          fieldSelector: [rule.fieldSelector, ...excluded].filter(Boolean).join(","),
          trimPaths: rule.trimPaths,
        });
      }
    }
  });
  return { plans, unmatched };
}

/** Splits "a.b[c.d/e].f" into ["a", "b", "c.d/e", "f"]: brackets hold keys that contain dots. */
function pathSegments(path: string): string[] {
  const segments: string[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[([^\]]+)\]/g)) segments.push(match[1] ?? match[2]!);
  return segments;
}

/** Removes the given paths from a copy of the object; missing paths are ignored. */
export function trimObject<T extends Record<string, unknown>>(object: T, paths: string[]): T {
  if (paths.length === 0) return object;
  const copy = cloneJson(object);
  for (const path of paths) {
    const segments = pathSegments(path);
    const last = segments.pop();
    let parent: unknown = copy;
    for (const segment of segments) parent = (parent as Record<string, unknown> | undefined)?.[segment];
    if (last !== undefined && parent !== null && typeof parent === "object")
      delete (parent as Record<string, unknown>)[last];
  }
  return copy;
}

/** Stored rules are SyncRule messages in their canonical JSON form. */
export function rulesFromJson(stored: unknown[]): SyncRule[] {
  return stored.map((rule) => fromJson(SyncRuleSchema, rule as JsonValue));
}

export function rulesToJson(rules: SyncRule[]): JsonValue[] {
  return rules.map((rule) => toJson(SyncRuleSchema, rule));
}
