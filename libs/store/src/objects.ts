import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import type postgres from "postgres";
import type { Database } from "./db.js";
import { clusters } from "./schema/clusters.js";
import { resources } from "./schema/resources.js";

// Reads of the indexed objects that serve the API beside search: types, counts, kinds of a cluster.

/** A resource type the index holds objects of. */
export interface IndexedType {
  group: string;
  version: string;
  kind: string;
  resource: string;
  namespaced: boolean;
}

/**
 * What the index knows of resource types: the types it holds objects of, the types agents say
 * they sync (as [group/]version/resource[@namespace]), and the specs of the indexed CRDs.
 */
export async function indexedTypes(
  db: Database,
): Promise<{ indexed: IndexedType[]; synced: string[]; crdSpecs: Record<string, unknown>[] }> {
  const [indexed, synced, crds] = await Promise.all([
    db
      .select({
        group: resources.apiGroup,
        version: resources.apiVersion,
        kind: resources.kind,
        resource: resources.resource,
        namespaced: sql<boolean>`bool_or(${resources.namespace} <> '')`,
      })
      .from(resources)
      .groupBy(resources.apiGroup, resources.apiVersion, resources.kind, resources.resource),
    db.execute<{ resource: string }>(sql`
      select distinct s->>'resource' as resource
      from ${clusters}, jsonb_array_elements(coalesce(${clusters.status}->'sync', '[]'::jsonb)) s
      where s->>'resource' is not null`),
    db
      .selectDistinctOn([resources.name], {
        spec: sql<Record<string, unknown> | null>`${resources.object}->'spec'`,
      })
      .from(resources)
      .where(
        and(eq(resources.kind, "CustomResourceDefinition"), eq(resources.apiGroup, "apiextensions.k8s.io")),
      )
      .orderBy(resources.name, desc(resources.indexedAt)),
  ]);
  return { indexed, synced: synced.map((r) => r.resource), crdSpecs: crds.map((r) => r.spec ?? {}) };
}

/** One cluster's objects of the given kinds, with their uids. */
export async function objectsOfKinds(
  client: postgres.Sql,
  cluster: string,
  kinds: readonly string[],
): Promise<{ uid: string; object: Record<string, unknown> }[]> {
  return client<{ uid: string; object: Record<string, unknown> }[]>`
    select uid, object from resources where cluster = ${cluster} and kind = any(${[...kinds]}::text[])`;
}

/** How many objects each cluster has among those a condition selects. */
export async function objectCountsByCluster(db: Database, where: SQL): Promise<Map<string, number>> {
  const counts = await db
    .select({ cluster: resources.cluster, objects: sql<number>`count(*)::int` })
    .from(resources)
    .where(where)
    .groupBy(resources.cluster);
  return new Map(counts.map((row) => [row.cluster, row.objects]));
}
