import type { LabelRequirement } from "@atoll/kube";

/** Columns every front end may name; JSON paths into the object are the other kind of field. */
export const COLUMNS = [
  "cluster",
  "apiVersion",
  "group",
  "version",
  "kind",
  "namespace",
  "name",
  "uid",
  "creationTimestamp",
  "resourceVersion",
] as const;
export type Column = (typeof COLUMNS)[number];

export type Field =
  | { kind: "column"; name: Column }
  | { kind: "label"; key: string }
  | { kind: "annotation"; key: string }
  /** Segments of a JSON path into the object; "*" stands for every element of an array. */
  | { kind: "path"; segments: string[] };

export type Scalar = string | number | boolean;
export type Comparison = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type Condition =
  | { type: "and" | "or"; of: Condition[] }
  | { type: "not"; of: Condition }
  | { type: "compare"; field: Field; op: Comparison; value: Scalar }
  /** Two numeric fields of the same object; a missing count is zero, as Kubernetes omits zeros. */
  | { type: "compareFields"; left: Field; op: Comparison; right: Field }
  | { type: "in"; field: Field; values: Scalar[]; negated: boolean }
  | { type: "like"; field: Field; pattern: string; negated: boolean; caseInsensitive: boolean }
  | { type: "null"; field: Field; negated: boolean }
  | { type: "between"; field: Field; low: Scalar; high: Scalar; negated: boolean }
  /** A Kubernetes label requirement, with its semantics (!= and notin match a missing label). */
  | { type: "label"; requirement: LabelRequirement }
  /** Kubectl's STATUS: a phase, a pod reason, or a container's waiting or terminated reason. */
  | { type: "status"; value: string }
  /**
   * A status condition (an entry of status.conditions) of that type has that status: Ready=True
   * on a pod or node, Available=True on a deployment. Negated, it also matches objects that do
   * not report the condition at all, as a node that stopped reporting is not Ready.
   */
  | { type: "condition"; name: string; status: string; negated: boolean }
  /** Created within (newer) or before (older) a duration in seconds. */
  | { type: "age"; op: "<" | ">"; seconds: number }
  /** Free words, each matched by prefix against names, labels, annotations and object text. */
  | { type: "text"; words: string[] }
  /**
   * Owned, in the same cluster, by an owner named by uid, or by name (and optionally group and
   * resource) within the given namespaces; seniority 0 means direct children, 1 grandchildren.
   */
  | { type: "owner"; owner: OwnerRef; seniority: number };

export interface OwnerRef {
  uid?: string;
  name?: string;
  group?: string;
  resource?: string;
  /** Where an owner found by name may live; cluster-scoped owners are always included. */
  namespaces?: string[];
}

export interface OrderBy {
  field: Field;
  direction: "asc" | "desc";
}

export interface Query {
  where?: Condition;
  orderBy: OrderBy[];
  limit?: number;
  offset?: number;
  /** COUNT(*) grouped by these fields, instead of rows. */
  aggregate?: { groupBy: Field[] };
}

export const column = (name: Column): Field => ({ kind: "column", name });

export function and(conditions: Condition[]): Condition | undefined {
  const flat = conditions.flatMap((c) => (c.type === "and" ? c.of : [c]));
  if (flat.length === 0) return undefined;
  return flat.length === 1 ? flat[0] : { type: "and", of: flat };
}

export class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** 1-based position in the query text, when known. */
    readonly position?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}
