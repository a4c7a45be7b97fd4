import { createHash } from "node:crypto";
import type postgres from "postgres";
import { isoTime } from "./db.js";

export interface TemplateKey {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** Who applied a policy or template, and the clusters their write grants reached then. */
export interface AuthorityRecord {
  appliedBy: string;
  clusters: string[];
}

export interface PolicyKey {
  kind: string;
  namespace: string;
  name: string;
}

export interface PolicyRow extends PolicyKey {
  document: Record<string, unknown>;
  authority: AuthorityRecord;
}

export interface TemplateRow extends TemplateKey {
  uid: string;
  authority: AuthorityRecord;
  document: Record<string, unknown>;
  generation: number;
  claimedBy: string;
  /** The placement request this version of the template is owed (a bigint, as text). */
  placementSeq: string;
}

export interface BindingRow {
  namespace: string;
  name: string;
  apiVersion: string;
  kind: string;
  templateName: string;
  uid: string;
  policy: string;
  clusters: { name: string; replicas?: number }[];
  observedAffinity: string;
  /** Why clusters were not chosen: each reason with the clusters it rejected. */
  rejected: Record<string, string[]>;
  condition: string;
  message: string;
  generation: number;
  aggregatedStatus: Record<string, unknown>;
  scheduledAt: string | null;
  /** Clusters the workload is leaving by eviction; their copies stay until each task ends. */
  evictionTasks: Record<string, unknown>[];
}

export interface WorkRow {
  cluster: string;
  generation: number;
  manifests: Record<string, unknown>[];
  action: "apply" | "delete";
  applied: boolean;
  status: Record<string, unknown>[];
  /** A delete that leaves the member objects where they are. */
  preserve?: boolean;
  /** The outbox entry (work_sends) that sends it: forgotten once it is on the bus. */
  send?: number;
}

const json = (value: unknown) => JSON.stringify(value);

/**
 * What a policy change does to the templates: a propagation or override policy may move any of
 * them, so each is owed a placement from the change on; a taint policy changes clusters only.
 */
interface PolicyChangeOptions {
  requestsPlacement: boolean;
}

/** Marks every template owed a placement, within the statement that changed a policy. */
const requestPlacementOfAll = (
  sql: postgres.Sql,
  options: PolicyChangeOptions,
  changed: postgres.Fragment,
) => sql`
  update templates set placement_seq = nextval('placement_requests'), placement_requested_at = now()
  where ${options.requestsPlacement} and exists (select 1 from ${changed})`;

/**
 * Stores a policy document with the authority it was applied with; the generation moves when
 * either changes, since a wider or narrower authority moves what the policy may place.
 */
export async function upsertPolicy(
  sql: postgres.Sql,
  policy: PolicyKey & { document: unknown; authority: AuthorityRecord },
  options: PolicyChangeOptions = { requestsPlacement: true },
): Promise<{ changed: boolean; created: boolean }> {
  const [row] = await sql`
    with changed as (
      insert into placement_policies (kind, namespace, name, document, authority)
      values (${policy.kind}, ${policy.namespace}, ${policy.name}, ${json(policy.document)}::jsonb, ${json(policy.authority)}::jsonb)
      on conflict (kind, namespace, name) do update set document = excluded.document, authority = excluded.authority,
        generation = placement_policies.generation + 1, updated_at = now()
        where placement_policies.document is distinct from excluded.document
          or placement_policies.authority is distinct from excluded.authority
      returning generation, (xmax = 0) as created),
    requested as (${requestPlacementOfAll(sql, options, sql`changed`)})
    select generation, created from changed`;
  // xmax is 0 on a row this statement inserted, and set on one it updated.
  return { changed: Boolean(row), created: Boolean(row?.created) };
}

export async function deletePolicy(
  sql: postgres.Sql,
  key: PolicyKey,
  options: PolicyChangeOptions = { requestsPlacement: true },
): Promise<boolean> {
  const [row] = await sql`
    with deleted as (
      delete from placement_policies where kind = ${key.kind} and namespace = ${key.namespace} and name = ${key.name}
      returning 1),
    requested as (${requestPlacementOfAll(sql, options, sql`deleted`)})
    select count(*)::int as n from deleted`;
  return (row?.n ?? 0) > 0;
}

export async function listPolicies(sql: postgres.Sql): Promise<PolicyRow[]> {
  return (await sql`select kind, namespace, name, document, authority from placement_policies order by kind, namespace, name`) as never;
}

export async function getPolicy(sql: postgres.Sql, key: PolicyKey): Promise<PolicyRow | undefined> {
  const [row] = await sql`select kind, namespace, name, document, authority from placement_policies
    where kind = ${key.kind} and namespace = ${key.namespace} and name = ${key.name}`;
  return row as PolicyRow | undefined;
}

/**
 * Stores a template with the authority it was applied with; the generation moves when either
 * changes, and a change is owed a placement from then on (placementSeq).
 */
export async function upsertTemplate(
  sql: postgres.Sql,
  key: TemplateKey,
  document: unknown,
  authority: AuthorityRecord,
): Promise<{ changed: boolean; created: boolean }> {
  const [row] = await sql`
    insert into templates (api_version, kind, namespace, name, document, authority)
    values (${key.apiVersion}, ${key.kind}, ${key.namespace}, ${key.name}, ${json(document)}::jsonb, ${json(authority)}::jsonb)
    on conflict (api_version, kind, namespace, name) do update set document = excluded.document, authority = excluded.authority,
      generation = templates.generation + 1, updated_at = now(),
      placement_seq = nextval('placement_requests'), placement_requested_at = now()
      where templates.document is distinct from excluded.document or templates.authority is distinct from excluded.authority
    returning generation, (xmax = 0) as created`;
  // xmax is 0 on a row this statement inserted, and set on one it updated.
  return { changed: Boolean(row), created: Boolean(row?.created) };
}

export async function deleteTemplate(sql: postgres.Sql, key: TemplateKey): Promise<boolean> {
  const deleted =
    await sql`delete from templates where api_version = ${key.apiVersion} and kind = ${key.kind} and namespace = ${key.namespace} and name = ${key.name}`;
  return deleted.count > 0;
}

const TEMPLATE_COLUMNS = (sql: postgres.Sql) => sql`
  api_version as "apiVersion", kind, namespace, name, uid, document, generation::int, claimed_by as "claimedBy", authority,
  placement_seq::text as "placementSeq"`;

export async function getTemplate(sql: postgres.Sql, key: TemplateKey): Promise<TemplateRow | undefined> {
  const [row] = await sql`
    select ${TEMPLATE_COLUMNS(sql)}
    from templates where api_version = ${key.apiVersion} and kind = ${key.kind} and namespace = ${key.namespace} and name = ${key.name}`;
  return row as TemplateRow | undefined;
}

/** Several templates in one read; those that do not exist are left out. */
export async function getTemplates(sql: postgres.Sql, keys: TemplateKey[]): Promise<TemplateRow[]> {
  if (keys.length === 0) return [];
  return (await sql`
    select ${TEMPLATE_COLUMNS(sql)}
    from templates where (api_version, kind, namespace, name) in (
      select "apiVersion", kind, namespace, name
      from jsonb_to_recordset(${json(keys)}::jsonb) as k("apiVersion" text, kind text, namespace text, name text))`) as never;
}

export async function listTemplateKeys(sql: postgres.Sql): Promise<TemplateKey[]> {
  return (await sql`select api_version as "apiVersion", kind, namespace, name from templates order by namespace, name`) as never;
}

/**
 * Records that templates were placed from the requests they were read with, and the policy that
 * claims each one where placing found that changed (`claim`, "" for none). A template changed
 * since it was read keeps its newer request owed.
 */
export async function markTemplatesPlaced(
  sql: postgres.Sql,
  placed: (TemplateKey & { placementSeq: string; claim?: string | undefined })[],
): Promise<void> {
  if (placed.length === 0) return;
  // Keys, sequences and claims only: the rows read for placing carry whole documents.
  const marks = placed.map(({ apiVersion, kind, namespace, name, placementSeq, claim }) => ({
    apiVersion,
    kind,
    namespace,
    name,
    placementSeq,
    claim: claim ?? null,
  }));
  await sql`update templates t set
      placed_seq = case when t.placement_seq = p."placementSeq"::bigint then t.placement_seq else t.placed_seq end,
      claimed_by = coalesce(p.claim, t.claimed_by)
    from jsonb_to_recordset(${json(marks)}::jsonb) as p("apiVersion" text, kind text, namespace text, name text, "placementSeq" text, claim text)
    where t.api_version = p."apiVersion" and t.kind = p.kind and t.namespace = p.namespace and t.name = p.name
      and (t.placement_seq = p."placementSeq"::bigint or p.claim is not null)`;
}

/**
 * Templates owed a placement that nobody asked for, oldest first: those changed more than
 * `settleSeconds` ago and not placed since, and those deleted whose binding is still there.
 */
export async function unplacedTemplates(
  sql: postgres.Sql,
  limit: number,
  settleSeconds: number,
): Promise<(TemplateKey & { deleted: boolean })[]> {
  return (await sql`
    (select api_version as "apiVersion", kind, namespace, name, false as deleted from templates
      where placed_seq <> placement_seq and placement_requested_at < now() - make_interval(secs => ${settleSeconds})
      order by placement_requested_at limit ${limit})
    union all
    (select b.api_version as "apiVersion", b.kind, b.namespace, b.template_name as name, true as deleted from bindings b
      where not exists (select 1 from templates t where t.api_version = b.api_version and t.kind = b.kind
        and t.namespace = b.namespace and t.name = b.template_name)
      limit ${limit})`) as never;
}

const BINDING_COLUMNS = (sql: postgres.Sql) => sql`
  namespace, name, api_version as "apiVersion", kind, template_name as "templateName", uid, policy, clusters,
  observed_affinity as "observedAffinity", rejected, condition, message, generation::int, aggregated_status as "aggregatedStatus",
  ${isoTime(sql, "scheduled_at")} as "scheduledAt", eviction_tasks as "evictionTasks"`;

/** A reason's clusters as stored: a list, or a cluster set less the clusters the binding took. */
type StoredClusters = string[] | { set: string; less?: string[] };

/** The clusters of a list that are not in `less`, in the list's order. */
function clustersLess(of: readonly string[], less: readonly string[]): string[] {
  const left = new Set(less);
  return of.filter((cluster) => !left.has(cluster));
}

/**
 * Bindings as read, with each reason's clusters named one by one: the cluster sets they name are
 * read once for all of them, and each binding's own list is made here (in SQL, a list of a
 * thousand clusters less a few cost a millisecond per binding).
 */
async function withRejectionsListed(sql: postgres.Sql, rows: readonly unknown[]): Promise<BindingRow[]> {
  const bindings = rows as (Omit<BindingRow, "rejected"> & { rejected: Record<string, StoredClusters> })[];
  const ids = new Set<string>();
  for (const { rejected } of bindings)
    for (const clusters of Object.values(rejected)) if (!Array.isArray(clusters)) ids.add(clusters.set);
  const sets = new Map<string, string[]>();
  if (ids.size > 0)
    for (const { id, clusters } of await sql<{ id: string; clusters: string[] }[]>`
      select id, clusters from cluster_sets where id = any(${[...ids]}::text[])`)
      sets.set(id, clusters);
  return bindings.map((binding) => {
    const rejected: Record<string, string[]> = {};
    for (const [reason, clusters] of Object.entries(binding.rejected)) {
      if (Array.isArray(clusters)) {
        rejected[reason] = clusters;
        continue;
      }
      rejected[reason] = clustersLess(sets.get(clusters.set) ?? [], clusters.less ?? []);
    }
    return { ...binding, rejected };
  });
}

export async function getBinding(
  sql: postgres.Sql,
  namespace: string,
  name: string,
): Promise<BindingRow | undefined> {
  return (await getBindings(sql, [{ namespace, name }]))[0];
}

/** Several bindings in one read, in namespace and name order; those that do not exist are left out. */
export async function getBindings(
  sql: postgres.Sql,
  keys: { namespace: string; name: string }[],
): Promise<BindingRow[]> {
  if (keys.length === 0) return [];
  return await withRejectionsListed(
    sql,
    await sql`select ${BINDING_COLUMNS(sql)} from bindings
      where (namespace, name) in (select namespace, name from jsonb_to_recordset(${json(keys)}::jsonb) as k(namespace text, name text))
      order by namespace, name`,
  );
}

/**
 * Up to `limit` bindings in order of namespace and name, after a position when given, within
 * the namespaces and template kinds named (each "all" for any): one page of a list.
 */
export async function listBindings(
  sql: postgres.Sql,
  page: {
    limit: number;
    after?: { namespace: string; name: string } | undefined;
    namespaces: "all" | string[];
    kinds: "all" | string[];
  },
): Promise<BindingRow[]> {
  const { after, namespaces, kinds } = page;
  return await withRejectionsListed(
    sql,
    await sql`select ${BINDING_COLUMNS(sql)} from bindings
      where (${after === undefined} or (namespace, name) > (${after?.namespace ?? ""}, ${after?.name ?? ""}))
        and (${namespaces === "all"} or namespace = any(${namespaces === "all" ? [] : namespaces}::text[]))
        and (${kinds === "all"} or kind = any(${kinds === "all" ? [] : kinds}::text[]))
      order by namespace, name limit ${page.limit}`,
  );
}

export async function listWorks(sql: postgres.Sql, namespace: string, name: string): Promise<WorkRow[]> {
  return (await sql`
    select cluster, generation::int, manifests, action, applied, status, preserve from works
    where binding_namespace = ${namespace} and binding_name = ${name} order by cluster`) as never;
}

/** The apply works a cluster should be running, each with its binding's policy. */
export async function clusterWorks(
  sql: postgres.Sql,
  cluster: string,
): Promise<(WorkRow & { namespace: string; name: string; policy: string })[]> {
  return (await sql`
    select w.binding_namespace as namespace, w.binding_name as name, b.policy, w.cluster, w.generation::int,
      w.manifests, w.action, w.applied, w.status
    from works w join bindings b on b.namespace = w.binding_namespace and b.name = w.binding_name
    where w.cluster = ${cluster} and w.action = 'apply'
    order by w.binding_namespace, w.binding_name`) as never;
}

/**
 * Rejections as a decision may carry them: each reason's clusters by name, or as a list shared by
 * many bindings less the few this one took (`of`, `less`).
 */
export type RejectionsToStore = Record<
  string,
  readonly string[] | { of: readonly string[]; less: readonly string[] }
>;

/** A scheduling decision to store: the binding, and the manifests each of its clusters gets. */
export interface BindingDecision {
  binding: Omit<BindingRow, "aggregatedStatus" | "scheduledAt" | "generation" | "rejected"> & {
    rejected: RejectionsToStore;
  };
  manifests: Record<string, Record<string, unknown>[]>;
  /** Clusters whose works stay exactly as they are, neither updated nor withdrawn. */
  keep?: string[];
}

/** Lists this long or shorter stay in the binding; longer ones are stored once, as cluster sets. */
const INLINE_CLUSTERS = 16;

/** Set ids by list: the lists a scheduler's tally shares are hashed once, not per binding. */
const setIds = new WeakMap<readonly string[], string>();

/** A list's id in cluster_sets: the first 32 hex digits of the SHA-256 of its JSON. */
function clusterSetId(clusters: readonly string[]): string {
  let id = setIds.get(clusters);
  if (id === undefined) {
    id = createHash("sha256").update(JSON.stringify(clusters)).digest("hex").slice(0, 32);
    setIds.set(clusters, id);
  }
  return id;
}

/**
 * A binding's rejections as stored: a short list as it is, a long one as {"set": id} (with the
 * clusters the binding took from it as "less"), its list added to `sets`; and how many clusters
 * each reason rejected, in reason order.
 */
function storedRejections(
  rejections: RejectionsToStore,
  sets: Map<string, readonly string[]>,
): { rejected: Record<string, unknown>; rejectionCounts: { reason: string; count: number }[] } {
  const rejected: Record<string, unknown> = {};
  const rejectionCounts: { reason: string; count: number }[] = [];
  for (const [reason, clusters] of Object.entries(rejections)) {
    const { of, less } = "of" in clusters ? clusters : { of: clusters, less: [] };
    const count = of.length - less.length;
    rejectionCounts.push({ reason, count });
    if (count <= INLINE_CLUSTERS) {
      rejected[reason] = less.length ? clustersLess(of, less) : of;
      continue;
    }
    const id = clusterSetId(of);
    sets.set(id, of);
    rejected[reason] = less.length ? { set: id, less } : { set: id };
  }
  // In code point order, whatever the database collation, so that equal decisions read alike.
  rejectionCounts.sort((a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  return { rejected, rejectionCounts };
}

/**
 * Bindings that store cluster sets hold this lock shared; forgetting unused sets holds it alone,
 * so it never sees a set as unused while a binding naming it is being written.
 */
const CLUSTER_SETS_LOCK = "atoll:cluster_sets";

/**
 * Stores the cluster sets a transaction's bindings name, sending only those not stored yet (a
 * batch's sets are the same from one write to the next). Under the shared lock no set can be
 * forgotten until the transaction ends, so one seen here stays. New ones go in id order, so two
 * writers adding the same sets never wait on each other in a cycle.
 */
async function storeClusterSets(tx: postgres.TransactionSql, sets: Map<string, readonly string[]>) {
  if (sets.size === 0) return;
  await tx`select pg_advisory_xact_lock_shared(hashtext(${CLUSTER_SETS_LOCK}))`;
  const stored = await tx<
    { id: string }[]
  >`select id from cluster_sets where id = any(${[...sets.keys()]}::text[])`;
  for (const { id } of stored) sets.delete(id);
  if (sets.size === 0) return;
  const rows = [...sets].map(([id, clusters]) => ({ id, clusters, size: clusters.length }));
  await tx`insert into cluster_sets (id, clusters, size)
    select id, clusters, size from jsonb_to_recordset(${json(rows)}::jsonb) as s(id text, clusters jsonb, size int)
    order by id
    on conflict (id) do nothing`;
}

/**
 * Brings the index rows of bindings written since the last pass up to date (search shows each
 * binding as a ResourceBinding of the hub), at most `batch` of them, and returns how many it
 * took: fewer than `batch` once none is behind. Passes may run at once.
 */
export async function indexQueuedBindings(sql: postgres.Sql, batch = 1000): Promise<number> {
  const [row] = await sql<{ taken: number }[]>`select atoll_index_queued_bindings(${batch}) as taken`;
  return row?.taken ?? 0;
}

/**
 * Removes the cluster sets no binding names any more (bindings rescheduled or deleted since).
 * Returns how many went.
 */
export async function forgetUnusedClusterSets(sql: postgres.Sql): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${CLUSTER_SETS_LOCK}))`;
    const deleted = await tx`delete from cluster_sets s where not exists (
      select 1 from bindings b, jsonb_each(b.rejected) r
      where jsonb_typeof(r.value) = 'object' and r.value ->> 'set' = s.id)`;
    return deleted.count;
  });
}

/**
 * Records a scheduling decision and the works it implies, in one transaction: the binding, one
 * work per target cluster, and a delete work for each cluster that no longer gets the template.
 * Works of the clusters in `keep` are left exactly as they are, neither updated nor withdrawn
 * (dispatching suspended there, an override that failed, a copy kept by a graceful eviction).
 * Returns the works to publish; generations come from the hub-wide sequence.
 *
 * Lock order, here and in every other write to these tables: the binding's row, then its works.
 */
export async function saveBinding(
  sql: postgres.Sql,
  binding: BindingDecision["binding"],
  manifests: BindingDecision["manifests"],
  keep: string[] = [],
): Promise<WorkRow[]> {
  return (await saveBindings(sql, [{ binding, manifests, keep }]))[0]!;
}

/** A binding's namespace and name as one map key; with a cluster, its work's. */
const bindingKey = (binding: { namespace: string; name: string }) =>
  `${binding.namespace}\u0000${binding.name}`;
const workKey = (work: { cluster: string; namespace: string; name: string }) =>
  `${bindingKey(work)}\u0000${work.cluster}`;

/**
 * saveBinding for many decisions in one transaction and a handful of statements, whatever their
 * number: the scheduler's batches. Returns each decision's works to publish, in the order given.
 * Rows are locked in (namespace, name[, cluster]) order, all bindings before any work, so two
 * writers never wait on each other in a cycle.
 */
export async function saveBindings(sql: postgres.Sql, decisions: BindingDecision[]): Promise<WorkRow[][]> {
  if (decisions.length === 0) return [];
  const index = new Map(decisions.map((d, i) => [bindingKey(d.binding), i]));
  if (index.size < decisions.length) throw new Error("saveBindings was given one binding twice");
  const sets = new Map<string, readonly string[]>();
  const rows = decisions.map(({ binding }) => ({
    ...binding,
    ...storedRejections(binding.rejected, sets),
  }));
  return await sql.begin(async (tx) => {
    await storeClusterSets(tx, sets);
    await tx`
      insert into bindings (namespace, name, api_version, kind, template_name, uid, policy, clusters, observed_affinity, rejected, rejection_counts, condition, message, generation, scheduled_at, eviction_tasks)
      select namespace, name, "apiVersion", kind, "templateName", uid, policy, clusters, "observedAffinity", rejected, "rejectionCounts", condition, message, 1, now(), "evictionTasks"
      from jsonb_to_recordset(${json(rows)}::jsonb) as b(namespace text, name text, "apiVersion" text, kind text, "templateName" text,
        uid text, policy text, clusters jsonb, "observedAffinity" text, rejected jsonb, "rejectionCounts" jsonb, condition text, message text, "evictionTasks" jsonb)
      order by namespace, name
      on conflict (namespace, name) do update set api_version = excluded.api_version, kind = excluded.kind, template_name = excluded.template_name,
        uid = excluded.uid, policy = excluded.policy, clusters = excluded.clusters, observed_affinity = excluded.observed_affinity,
        rejected = excluded.rejected, rejection_counts = excluded.rejection_counts, condition = excluded.condition, message = excluded.message,
        generation = bindings.generation + 1, scheduled_at = now(), eviction_tasks = excluded.eviction_tasks`;
    const keys = decisions.map(({ binding }) => ({ namespace: binding.namespace, name: binding.name }));
    const existing = await tx<{ namespace: string; name: string; cluster: string; action: string }[]>`
      select binding_namespace as namespace, binding_name as name, cluster, action from works
      where (binding_namespace, binding_name) in (select namespace, name from jsonb_to_recordset(${json(keys)}::jsonb) as k(namespace text, name text))
      order by binding_namespace, binding_name, cluster for update`;
    const applies = decisions.flatMap(({ binding, manifests, keep = [] }) =>
      Object.entries(manifests)
        .filter(([cluster]) => !keep.includes(cluster))
        .map(([cluster, list]) => ({
          cluster,
          namespace: binding.namespace,
          name: binding.name,
          manifests: list,
        })),
    );
    const withdrawals = existing
      .filter((work) => {
        const { manifests, keep = [] } = decisions[index.get(bindingKey(work))!]!;
        return !manifests[work.cluster] && !keep.includes(work.cluster) && work.action !== "delete";
      })
      .map(({ cluster, namespace, name }) => ({ cluster, namespace, name }));
    const out: WorkRow[][] = decisions.map(() => []);
    if (applies.length > 0) {
      // jsonb compares by value (stored objects come back with their keys reordered): an
      // unchanged work is not sent again.
      const applied = await tx<{ namespace: string; name: string; cluster: string; generation: number }[]>`
        insert into works (cluster, binding_namespace, binding_name, generation, manifests, action)
        select cluster, namespace, name, nextval('work_generations'), manifests, 'apply'
        from jsonb_to_recordset(${json(applies)}::jsonb) as w(cluster text, namespace text, name text, manifests jsonb)
        order by namespace, name, cluster
        on conflict (cluster, binding_namespace, binding_name) do update set generation = excluded.generation, manifests = excluded.manifests,
          action = 'apply', applied = false, preserve = false, updated_at = now()
          where works.action <> 'apply' or works.manifests is distinct from excluded.manifests
        returning binding_namespace as namespace, binding_name as name, cluster, generation::int`;
      for (const row of applied) {
        const at = index.get(bindingKey(row))!;
        out[at]!.push({
          cluster: row.cluster,
          generation: row.generation,
          manifests: decisions[at]!.manifests[row.cluster]!,
          action: "apply",
          applied: false,
          status: [],
        });
      }
    }
    if (withdrawals.length > 0) {
      const withdrawn = await tx<
        {
          namespace: string;
          name: string;
          cluster: string;
          generation: number;
          manifests: Record<string, unknown>[];
        }[]
      >`
        update works set action = 'delete', generation = nextval('work_generations'), applied = false, updated_at = now()
        from jsonb_to_recordset(${json(withdrawals)}::jsonb) as w(cluster text, namespace text, name text)
        where works.cluster = w.cluster and works.binding_namespace = w.namespace and works.binding_name = w.name
        returning works.binding_namespace as namespace, works.binding_name as name, works.cluster, works.generation::int, works.manifests`;
      for (const row of withdrawn)
        out[index.get(bindingKey(row))!]!.push({
          cluster: row.cluster,
          generation: row.generation,
          manifests: row.manifests,
          action: "delete",
          applied: false,
          status: [],
        });
    }
    // Works in cluster order within a binding, as they were sent before batching.
    for (const works of out)
      works.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
    await recordSend(
      tx,
      decisions.flatMap(({ binding }, i) =>
        out[i]!.map((work) => ({ work, namespace: binding.namespace, name: binding.name })),
      ),
    );
    return out;
  });
}

/** Records the works a transaction changed in the outbox, and which entry sends each. */
async function recordSend(
  tx: postgres.TransactionSql,
  works: { work: WorkRow; namespace: string; name: string }[],
): Promise<void> {
  if (works.length === 0) return;
  const keys = works.map(({ work, namespace, name }) => ({ cluster: work.cluster, namespace, name }));
  const [entry] = await tx<{ id: number }[]>`
    insert into work_sends (works) values (${json(keys)}::jsonb) returning id::int`;
  for (const { work } of works) work.send = entry!.id;
}

/**
 * Works committed but not yet published, oldest first, each with its binding's policy (none once
 * the binding is gone) and the outbox entry that sends it: what a scheduler that stopped between
 * commit and publish left behind. At most `limit` entries; those made in the last
 * `settleSeconds` are left to the scheduler publishing them. Entries whose works are all gone
 * (deleted once their removal was reported) are forgotten here.
 */
export async function unsentWorks(
  sql: postgres.Sql,
  limit: number,
  settleSeconds: number,
): Promise<(WorkRow & { namespace: string; name: string; policy: string; send: number })[]> {
  return (await sql`
    with due as (
      select id, works from work_sends where created_at < now() - make_interval(secs => ${settleSeconds})
      order by id limit ${limit}),
    keyed as (
      select due.id, k.cluster, k.namespace, k.name
      from due, jsonb_to_recordset(due.works) as k(cluster text, namespace text, name text)),
    emptied as (
      delete from work_sends s where s.id in (select id from due) and not exists (
        select 1 from keyed k join works w on w.cluster = k.cluster and w.binding_namespace = k.namespace and w.binding_name = k.name
        where k.id = s.id))
    select w.binding_namespace as namespace, w.binding_name as name, coalesce(b.policy, '') as policy, w.cluster,
      w.generation::int, w.manifests, w.action, w.applied, w.status, w.preserve, k.id::int as send
    from keyed k
      join works w on w.cluster = k.cluster and w.binding_namespace = k.namespace and w.binding_name = k.name
      left join bindings b on b.namespace = w.binding_namespace and b.name = w.binding_name
    order by k.id, w.binding_namespace, w.binding_name, w.cluster`) as never;
}

/** Forgets outbox entries whose works are on the bus. */
export async function forgetSends(sql: postgres.Sql, sends: number[]): Promise<void> {
  if (sends.length === 0) return;
  await sql`delete from work_sends where id = any(${sends}::bigint[])`;
}

/**
 * A deleted template: every work turns into a delete and the binding goes. With preserve, the
 * deletes leave the member objects in place (Karmada's preserveResourcesOnDeletion).
 */
export async function deleteBinding(
  sql: postgres.Sql,
  namespace: string,
  name: string,
  options: { preserve?: boolean } = {},
): Promise<WorkRow[]> {
  return await sql.begin(async (tx) => {
    await tx`select 1 from bindings where namespace = ${namespace} and name = ${name} for update`;
    const rows = (await tx`
      update works set action = 'delete', generation = nextval('work_generations'), applied = false,
        preserve = ${options.preserve ?? false}, updated_at = now()
      where (cluster, binding_namespace, binding_name) in (
        select cluster, binding_namespace, binding_name from works
        where binding_namespace = ${namespace} and binding_name = ${name} and action = 'apply' order by cluster for update)
      returning cluster, generation::int, manifests, action, applied, status, preserve`) as unknown as WorkRow[];
    await tx`delete from bindings where namespace = ${namespace} and name = ${name}`;
    await recordSend(
      tx,
      rows.map((work) => ({ work, namespace, name })),
    );
    return rows;
  });
}

/** An agent's report on one of its works. */
export interface WorkReport {
  cluster: string;
  namespace: string;
  name: string;
  generation: number;
  applied: boolean;
  manifests: Record<string, unknown>[];
}

/** An agent's report on a work, on its own: see recordWorkReports. */
export async function recordWorkStatus(sql: postgres.Sql, report: WorkReport): Promise<boolean> {
  return (await recordWorkReports(sql, [report]))[0]!;
}

/**
 * Agents' reports on their works, in one transaction: whether each was recorded. A report for an
 * older generation than the work's is ignored, as is one a later report on the same work in the
 * list replaces; a delete that finished removes the work. Each binding's aggregated status gains
 * its clusters' views. Set-based: a rollout brings tens of thousands of reports, and a
 * transaction of five statements each held the scheduler to a few hundred a second.
 */
export async function recordWorkReports(sql: postgres.Sql, reports: WorkReport[]): Promise<boolean[]> {
  if (reports.length === 0) return [];
  const recorded = reports.map(() => false);
  await sql.begin(async (tx) => {
    const bindings = [
      ...new Map(
        reports.map(({ namespace, name }) => [bindingKey({ namespace, name }), { namespace, name }]),
      ).values(),
    ];
    const keys = [
      ...new Map(
        reports.map(({ cluster, namespace, name }) => [
          workKey({ cluster, namespace, name }),
          { cluster, namespace, name },
        ]),
      ).values(),
    ];
    // Bindings' rows first, then their works, in the order every writer takes them (see saveBindings).
    await tx`select 1 from bindings
      where (namespace, name) in (select namespace, name from jsonb_to_recordset(${json(bindings)}::jsonb) as k(namespace text, name text))
      order by namespace, name for update`;
    const works = await tx<
      { cluster: string; namespace: string; name: string; generation: number; action: string }[]
    >`
      select cluster, binding_namespace as namespace, binding_name as name, generation::int, action from works
      where (cluster, binding_namespace, binding_name) in (
        select cluster, namespace, name from jsonb_to_recordset(${json(keys)}::jsonb) as k(cluster text, namespace text, name text))
      order by binding_namespace, binding_name, cluster for update`;
    // The reports in turn, as if each were recorded on its own: a later one on a work replaces
    // an earlier one, and one after a finished delete finds no work.
    const current = new Map<string, { generation: number; action: string } | undefined>(
      works.map((w) => [workKey(w), w]),
    );
    const finishedKeys = new Set<string>();
    const updates = new Map<string, WorkReport>();
    for (const [i, report] of reports.entries()) {
      const key = workKey(report);
      const work = current.get(key);
      if (!work || work.generation > report.generation) continue;
      recorded[i] = true;
      if (work.action === "delete" && report.applied) {
        current.set(key, undefined);
        finishedKeys.add(key);
        updates.delete(key);
      } else updates.set(key, report);
    }
    const finished = keys.filter((k) => finishedKeys.has(workKey(k)));
    const updated = [...updates.values()];
    if (updated.length > 0)
      await tx`update works w set applied = u.applied, status = u.manifests, reported_generation = u.generation, updated_at = now()
        from jsonb_to_recordset(${json(updated)}::jsonb) as u(cluster text, namespace text, name text, applied boolean, manifests jsonb, generation bigint)
        where w.cluster = u.cluster and w.binding_namespace = u.namespace and w.binding_name = u.name`;
    if (finished.length > 0)
      await tx`delete from works w
        using jsonb_to_recordset(${json(finished)}::jsonb) as f(cluster text, namespace text, name text)
        where w.cluster = f.cluster and w.binding_namespace = f.namespace and w.binding_name = f.name`;
    // Each binding once: what its clusters' finished deletes take away, and their views added.
    const changes = new Map<
      string,
      { namespace: string; name: string; gone: string[]; views: Record<string, unknown> }
    >();
    const changeOf = (r: { namespace: string; name: string }) => {
      const key = bindingKey(r);
      let change = changes.get(key);
      if (!change) {
        change = { namespace: r.namespace, name: r.name, gone: [], views: {} };
        changes.set(key, change);
      }
      return change;
    };
    for (const f of finished) changeOf(f).gone.push(f.cluster);
    for (const u of updated)
      changeOf(u).views[u.cluster] = {
        applied: u.applied,
        healthy: u.manifests.every((m) => m.healthy !== false),
        generation: u.generation,
        manifests: u.manifests,
      };
    if (changes.size > 0)
      await tx`update bindings b
        set aggregated_status = (b.aggregated_status - array(select jsonb_array_elements_text(c.gone))) || c.views
        from jsonb_to_recordset(${json([...changes.values()])}::jsonb) as c(namespace text, name text, gone jsonb, views jsonb)
        where b.namespace = c.namespace and b.name = c.name`;
  });
  return recorded;
}

/** Bindings that place their template on any of these clusters, or that are leaving one. */
export async function bindingsTouching(sql: postgres.Sql, clusters: string[]): Promise<BindingRow[]> {
  if (clusters.length === 0) return [];
  return await withRejectionsListed(
    sql,
    await sql`select ${BINDING_COLUMNS(sql)} from bindings
      where exists (select 1 from jsonb_array_elements(clusters) c where c->>'name' = any(${clusters}))
      order by namespace, name`,
  );
}

/** Bindings with graceful eviction tasks under way. */
export async function bindingsEvicting(sql: postgres.Sql): Promise<BindingRow[]> {
  return await withRejectionsListed(
    sql,
    await sql`select ${BINDING_COLUMNS(sql)} from bindings where eviction_tasks <> '[]'::jsonb
      order by namespace, name`,
  );
}

/**
 * Starts evicting a binding from a cluster, as Karmada's taint manager does: the cluster leaves
 * the result and a task records how its copy leaves. Nothing happens if the binding no longer
 * places there or already has a task for it.
 */
export async function addEvictionTask(
  sql: postgres.Sql,
  namespace: string,
  name: string,
  task: { fromCluster: string } & Record<string, unknown>,
): Promise<boolean> {
  const result = await sql`update bindings set eviction_tasks = eviction_tasks || ${json([task])}::jsonb
    where namespace = ${namespace} and name = ${name}
      and exists (select 1 from jsonb_array_elements(clusters) c where c->>'name' = ${task.fromCluster})
      and not exists (select 1 from jsonb_array_elements(eviction_tasks) t where t->>'fromCluster' = ${task.fromCluster})`;
  return result.count > 0;
}

/**
 * Ready and desired replicas of a binding's template summed across member clusters, as indexed:
 * the objects carrying its label (`label` = `value`), in the clusters `within` names (all when
 * absent) but not those in `except`.
 */
export async function templateReadiness(
  sql: postgres.Sql,
  template: { kind: string; namespace: string; name: string; label: string; value: string },
  clusters: { within?: string[] | undefined; except: string[] },
): Promise<{ readyReplicas: number; desiredReplicas: number }> {
  const [row] = await sql<{ readyReplicas: number; desiredReplicas: number }[]>`
    select coalesce(sum((object #>> '{status,readyReplicas}')::int), 0)::int as "readyReplicas",
      coalesce(sum((object #>> '{spec,replicas}')::int), 0)::int as "desiredReplicas"
    from resources where kind = ${template.kind} and namespace = ${template.namespace} and name = ${template.name}
      and labels @> ${JSON.stringify({ [template.label]: template.value })}::jsonb
      and not (cluster = any(${clusters.except}::text[]))
      and (${clusters.within === undefined} or cluster = any(${clusters.within ?? []}::text[]))`;
  return row ?? { readyReplicas: 0, desiredReplicas: 0 };
}
