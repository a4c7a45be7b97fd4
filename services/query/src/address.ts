import { visibleRows } from "@atoll/access";
import { parseLabelSelector } from "@atoll/kube";
import { and, type Condition, column, nameCondition, resolveKind } from "@atoll/search";
import type { FastifyRequest } from "fastify";

export type Query = Record<string, string | undefined>;

/** The caller's grants as conditions to AND into a query: none when they may read everything. */
export function within(request: FastifyRequest): Condition[] {
  const rows = visibleRows(request.principal);
  return rows ? [rows] : [];
}

/**
 * Which objects a request addresses: cluster, namespace, kind (any spelling kubectl accepts), name
 * (with * wildcards) and a label selector, ANDed with the caller's grants. Undefined means every
 * object.
 */
export function addressed(request: FastifyRequest): Condition | undefined {
  const query = request.query as Query;
  const conditions: Condition[] = [];
  const equals = (name: "cluster" | "kind" | "namespace", value: string): Condition => ({
    type: "compare",
    field: column(name),
    op: "=",
    value,
  });
  if (query.cluster) conditions.push(equals("cluster", query.cluster));
  if (query.kind) conditions.push(equals("kind", resolveKind(query.kind)));
  if (query.namespace !== undefined) conditions.push(equals("namespace", query.namespace));
  if (query.name) conditions.push(nameCondition(query.name));
  for (const requirement of parseLabelSelector(query.labelSelector ?? ""))
    conditions.push({ type: "label", requirement });
  return and([...conditions, ...within(request)]);
}
