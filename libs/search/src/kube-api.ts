import {
  BUILTIN_RESOURCE_TYPES,
  type FieldRequirement,
  parseFieldSelector,
  parseLabelSelector,
  type ResourceRoute,
  type ResourceType,
} from "@atoll/kube";
import { sql } from "drizzle-orm";
import { type Condition, column, type Field, QueryError } from "./ir.js";
import type { Database } from "./postgres.js";

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

/**
 * Every resource type the index holds objects of, as discovery describes them: built-in types
 * from the catalog (short names, scope), others as indexed (namespaced if any object has one).
 */
export async function indexedTypes(db: Database): Promise<ResourceType[]> {
  const rows = (await db.execute(sql`
    select api_group as "group", api_version as version, kind, resource, bool_or(namespace <> '') as namespaced
    from resources group by 1, 2, 3, 4`)) as unknown as {
    group: string;
    version: string;
    kind: string;
    resource: string;
    namespaced: boolean;
  }[];
  return rows.map((r) => {
    const builtin = BUILTIN_RESOURCE_TYPES.find((t) => t.group === r.group && t.resource === r.resource);
    return (
      builtin ?? {
        group: r.group,
        version: r.version,
        kind: r.kind,
        resource: r.resource,
        namespaced: r.namespaced,
        shortNames: [],
        categories: [],
      }
    );
  });
}
