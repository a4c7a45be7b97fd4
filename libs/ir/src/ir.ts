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

/** Where a JSON path into an object may start: the parts of objects people ask about. */
export const PATH_ROOTS = [
  "metadata",
  "spec",
  "status",
  "data",
  "type",
  "involvedObject",
  "reason",
  "message",
  "rules",
  "subjects",
  "roleRef",
] as const;

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

/** More conditions than any real question has; enough to plan a query in milliseconds. */
export const MAX_CONDITIONS = 500;

function conditionCount(condition: Condition): number {
  switch (condition.type) {
    case "and":
    case "or":
      return 1 + condition.of.reduce((sum, c) => sum + conditionCount(c), 0);
    case "not":
      return 1 + conditionCount(condition.of);
    case "in":
      return condition.values.length;
    case "text":
      return condition.words.length;
    default:
      return 1;
  }
}

/**
 * Refuses a query with more conditions than MAX_CONDITIONS, whichever front end made it: a long
 * enough list of terms otherwise exhausts the database's stack or the search engine's clause
 * limit, and the caller should hear that their query is too big, not that the server failed.
 */
export function assertQueryBounded(query: Query): void {
  const count = query.where ? conditionCount(query.where) : 0;
  if (count > MAX_CONDITIONS)
    throw new QueryError(
      "QUERY_TOO_COMPLEX",
      `the query has ${count} conditions, more than the ${MAX_CONDITIONS} allowed`,
      undefined,
      "split it into several queries, or match many values with one pattern (LIKE 'web-%', name:web-*)",
    );
}
