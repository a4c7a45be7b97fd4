import { type Condition, column, type Field, QueryError } from "@atoll/ir";
import {
  BUILTIN_RESOURCE_TYPES,
  type FieldRequirement,
  parseFieldSelector,
  parseLabelSelector,
  type ResourceRoute,
  type ResourceType,
} from "@atoll/kube";
import { type Database, type IndexedType, indexedTypes } from "@atoll/store";

function fieldOfSelector(path: string): Field {
  if (path === "metadata.name") return column("name");
  if (path === "metadata.namespace") return column("namespace");
  return { kind: "path", segments: path.split(".") };
}

function fieldCondition({ path, operator, value }: FieldRequirement): Condition {
  return { type: "compare", field: fieldOfSelector(path), op: operator, value };
}

/**
 * Clusterpedia's owner list options: `ownerUID`, or `ownerName` with `ownerGR` (resource.group,
 * e.g. deployments.apps), and `ownerSeniority` (0 children, 1 grandchildren, ...).
 */
export interface OwnerOptions {
  ownerUID?: string;
  ownerName?: string;
  ownerGR?: string;
  ownerSeniority?: string;
}

const MAX_SENIORITY = 5;

/** The owner condition of a list, or none when the options name no owner. */
export function ownerCondition(options: OwnerOptions, namespaces: string[] = []): Condition | undefined {
  if (!options.ownerUID && !options.ownerName) return undefined;
  const seniority = Number(options.ownerSeniority ?? 0);
  if (!Number.isInteger(seniority) || seniority < 0 || seniority > MAX_SENIORITY)
    throw new QueryError(
      "INVALID_OWNER",
      `ownerSeniority must be a whole number from 0 to ${MAX_SENIORITY}, got "${options.ownerSeniority}"`,
    );
  if (options.ownerUID) return { type: "owner", owner: { uid: options.ownerUID }, seniority };
  const [resource, ...group] = (options.ownerGR ?? "").split(".");
  return {
    type: "owner",
    owner: {
      name: options.ownerName!,
      ...(options.ownerGR ? { resource: resource!, group: group.join(".") } : {}),
      ...(namespaces.length ? { namespaces } : {}),
    },
    seniority,
  };
}

/** The IR conditions of a Kubernetes list: scope, label selector, and field selectors on any path. */
export function kubeListConditions(
  route: Pick<ResourceRoute, "type" | "namespace" | "name">,
  options: { cluster?: string; labelSelector?: string; fieldSelector?: string } & OwnerOptions,
): Condition[] {
  const conditions: Condition[] = [
    { type: "compare", field: column("group"), op: "=", value: route.type.group },
    { type: "compare", field: column("kind"), op: "=", value: route.type.kind },
  ];
  if (options.cluster)
    conditions.push({ type: "compare", field: column("cluster"), op: "=", value: options.cluster });
  if (route.namespace)
    conditions.push({ type: "compare", field: column("namespace"), op: "=", value: route.namespace });
  if (route.name) conditions.push({ type: "compare", field: column("name"), op: "=", value: route.name });
  for (const requirement of parseLabelSelector(options.labelSelector ?? ""))
    conditions.push({ type: "label", requirement });
  for (const requirement of parseFieldSelector(options.fieldSelector ?? ""))
    conditions.push(fieldCondition(requirement));
  const owner = ownerCondition(options, route.namespace ? [route.namespace] : []);
  if (owner) conditions.push(owner);
  return conditions;
}

/** A CRD's spec as indexed: enough to describe its served versions. */
interface CrdSpec {
  group?: string;
  scope?: string;
  names?: { kind?: string; plural?: string; shortNames?: string[]; categories?: string[] };
  versions?: { name?: string; served?: boolean }[];
}

const typeKey = (t: { group: string; version: string; resource: string }) =>
  `${t.group}/${t.version}/${t.resource}`;

/**
 * The resource types kubectl should find: every type the index holds objects of, and every type
 * an agent syncs even while it has none (so `kubectl get jobs` says "No resources found" rather
 * than "the server doesn't have a resource type"). Built-in types are described by the catalog,
 * custom resources by their CRD as indexed (short names and categories, so `kubectl get all`
 * and short names work), and otherwise as indexed.
 */
export function describeTypes(indexed: IndexedType[], synced: string[], crds: CrdSpec[]): ResourceType[] {
  const fromCrds = new Map<string, ResourceType>();
  for (const spec of crds) {
    const { group, names } = spec;
    if (!group || !names?.kind || !names.plural) continue;
    for (const version of spec.versions ?? []) {
      if (!version.name || version.served === false) continue;
      const type: ResourceType = {
        group,
        version: version.name,
        resource: names.plural,
        kind: names.kind,
        namespaced: spec.scope !== "Cluster",
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
      };
      fromCrds.set(typeKey(type), type);
    }
  }
  const types = new Map<string, ResourceType>();
  /** "group/resource" of every type described so far: a synced type adds no second version. */
  const described = new Set<string>();
  const describe = (type: ResourceType) => {
    types.set(typeKey(type), type);
    described.add(`${type.group}/${type.resource}`);
  };
  // The catalog's version stands for the type: the index keys objects by group and resource.
  const builtin = (group: string, resource: string) =>
    BUILTIN_RESOURCE_TYPES.find((t) => t.group === group && t.resource === resource);
  for (const row of indexed)
    describe(
      builtin(row.group, row.resource) ??
        fromCrds.get(typeKey(row)) ?? { ...row, shortNames: [], categories: [] },
    );
  for (const entry of synced) {
    // Heartbeats name a synced resource as [group/]version/resource[@namespace].
    const parts = entry.replace(/@.*$/, "").split("/");
    const [group, version, resource] =
      parts.length === 2 ? ["", parts[0]!, parts[1]!] : (parts as [string, string, string]);
    const known = builtin(group, resource) ?? fromCrds.get(typeKey({ group, version, resource }));
    if (known && !described.has(`${known.group}/${known.resource}`)) describe(known);
  }
  return [...types.values()];
}

/** The resource types the index serves to kubectl (see describeTypes), read from the database. */
export async function discoverableTypes(db: Database): Promise<ResourceType[]> {
  const { indexed, synced, crdSpecs } = await indexedTypes(db);
  return describeTypes(indexed, synced, crdSpecs as CrdSpec[]);
}
