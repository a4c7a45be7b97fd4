import { type ObjectRow, objectWords, type SettledOp } from "@atoll/store";
import { OpenSearchClient, OpenSearchError, type OpenSearchWriterOptions } from "./client.js";
import { resourceIndexTemplate } from "./mapping.js";

const documentId = (cluster: string, uid: string) => `${cluster}/${uid}`;

type ContainerStatus = Record<string, Record<string, { reason?: unknown } | undefined> | undefined>;

/** As Postgres's atoll_status_reasons: every reason the status gives, lower-cased, once each. */
// biome-ignore lint/suspicious/noExplicitAny: objects are schemaless JSON, read defensively
function statusReasons(object: Record<string, any>): string[] {
  const status = object.status ?? {};
  const states = (list: unknown, field: "state" | "lastState") =>
    (Array.isArray(list) ? (list as ContainerStatus[]) : []).flatMap((c) =>
      Object.values(c?.[field] ?? {}).map((state) => state?.reason),
    );
  const reasons = [
    status.phase,
    status.reason,
    ...(Array.isArray(status.conditions) ? status.conditions : []).map(
      (c: { reason?: unknown }) => c?.reason,
    ),
    ...states(status.containerStatuses, "state"),
    ...states(status.containerStatuses, "lastState"),
    ...states(status.initContainerStatuses, "state"),
  ].filter((reason): reason is string => typeof reason === "string");
  return [...new Set(reasons.map((reason) => reason.toLowerCase()))].sort();
}

/** The document for one object; mirrors the Postgres row, with the object as it was sent. */
export function resourceDocument(row: ObjectRow, indexedAt: string): string {
  // biome-ignore lint/suspicious/noExplicitAny: objects are schemaless JSON, read defensively
  const object = JSON.parse(row.objectJson) as Record<string, any>;
  const metadata = object.metadata ?? {};
  const pairs = (map: Record<string, string> | undefined) => Object.entries(map ?? {}).flat();
  return JSON.stringify({
    cluster: row.cluster,
    uid: row.uid,
    apiGroup: row.apiGroup,
    apiVersion: row.apiVersion,
    kind: row.kind,
    resource: row.resource,
    namespace: row.namespace,
    name: row.name,
    resourceVersion: Number(row.resourceVersion),
    syncId: row.syncId,
    createdAt: metadata.creationTimestamp ?? null,
    indexedAt,
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    object,
    // The same values as the Postgres generated columns status_reasons and search.
    statusReasons: statusReasons(object),
    conditions: ((object.status?.conditions ?? []) as { type?: unknown; status?: unknown }[])
      .filter((c) => typeof c?.type === "string" && typeof c.status === "string")
      .map((c) => `${c.type}=${c.status}`),
    ownerUids: ((metadata.ownerReferences ?? []) as { uid?: unknown }[])
      .map((owner) => owner.uid)
      .filter((uid): uid is string => typeof uid === "string"),
    searchText: [
      row.name,
      row.namespace,
      row.kind,
      ...pairs(metadata.labels),
      ...pairs(metadata.annotations),
      ...objectWords(object),
    ].join(" "),
  });
}

/**
 * The _bulk body for upserts and deletes as Postgres settled them. Versions are external and are
 * Postgres's revisions: the mirror takes Postgres's order of changes rather than deciding one of
 * its own, and external_gte makes a write replayed after a crash land again harmlessly while an
 * older one is refused.
 */
export function bulkBody(index: string, ops: SettledOp[], indexedAt: string): string {
  const lines: string[] = [];
  for (const op of ops) {
    if (op.op === "sweep") continue;
    const target = {
      _index: index,
      _id: op.op === "upsert" ? documentId(op.row.cluster, op.row.uid) : documentId(op.cluster, op.uid),
      version: Number(op.revision),
      version_type: "external_gte",
    };
    if (op.op === "upsert") {
      lines.push(JSON.stringify({ index: target }));
      lines.push(resourceDocument(op.row, indexedAt));
    } else lines.push(JSON.stringify({ delete: target }));
  }
  return `${lines.join("\n")}\n`;
}

/** _delete_by_query for a sweep: rows of the scope (or the whole cluster) last seen in an older list. */
export function sweepQuery(op: Extract<SettledOp, { op: "sweep" }>): Record<string, unknown> {
  const filter: Record<string, unknown>[] = [{ term: { cluster: op.cluster } }];
  if (op.apiGroup !== undefined) filter.push({ term: { apiGroup: op.apiGroup } });
  if (op.resource !== undefined) filter.push({ term: { resource: op.resource } });
  filter.push({ range: { syncId: { lt: op.syncId } } });
  if (op.namespace !== undefined) filter.push({ term: { namespace: op.namespace } });
  return { query: { bool: { filter } } };
}

interface BulkItem {
  status: number;
  error?: { type: string; reason: string };
}

export class OpenSearchWriter {
  readonly index: string;
  private readonly client: OpenSearchClient;

  constructor(private readonly options: OpenSearchWriterOptions) {
    this.client = new OpenSearchClient(options);
    this.index = this.client.index;
  }

  private request(method: string, path: string, body: string, contentType?: string) {
    return this.client.request(method, path, body, contentType);
  }

  /**
   * Installs the index template and creates the index; safe to run at every start. An index made
   * by an earlier version gains the fields added since, which its strict mapping would otherwise
   * refuse in every document.
   */
  async ensureIndex(): Promise<void> {
    const template = resourceIndexTemplate(this.options.prefix ?? "");
    await this.request("PUT", `/_index_template/${this.index}`, JSON.stringify(template));
    await this.request("PUT", `/${this.index}`, "{}");
    const { mappings } = template.template as { mappings: { properties: Record<string, unknown> } };
    await this.request("PUT", `/${this.index}/_mapping`, JSON.stringify({ properties: mappings.properties }));
  }

  /** Applies ops in order: bulk writes between sweeps, each sweep after the writes before it. */
  async apply(ops: readonly SettledOp[], now = new Date()): Promise<void> {
    let segment: SettledOp[] = [];
    const flush = async () => {
      if (segment.length === 0) return;
      const answer = await this.request(
        "POST",
        "/_bulk",
        bulkBody(this.index, segment, now.toISOString()),
        "application/x-ndjson",
      );
      segment = [];
      if (!answer.errors) return;
      for (const entry of answer.items as Record<string, BulkItem>[]) {
        const item = Object.values(entry)[0]!;
        // 409: a newer version is already there (a stale replay); 404: deleting what is gone.
        if (item.status === 409 || item.status === 404 || item.status < 300) continue;
        throw new OpenSearchError(
          `bulk write failed: ${item.error?.type ?? item.status}: ${item.error?.reason ?? ""}`,
        );
      }
    };
    for (const op of ops) {
      if (op.op !== "sweep") {
        segment.push(op);
        continue;
      }
      await flush();
      await this.request(
        "POST",
        `/${this.index}/_delete_by_query?conflicts=proceed&refresh=false`,
        JSON.stringify(sweepQuery(op)),
      );
    }
    await flush();
  }

  /** Every (cluster/uid → resourceVersion) in the index; for the contract suite and checks. */
  async versions(): Promise<Map<string, string>> {
    await this.request("POST", `/${this.index}/_refresh`, "");
    const answer = await this.request(
      "POST",
      `/${this.index}/_search`,
      JSON.stringify({
        size: 10000,
        _source: ["cluster", "uid", "resourceVersion"],
        query: { match_all: {} },
      }),
    );
    const hits = (
      (answer.hits as { hits: { _source: { cluster: string; uid: string; resourceVersion: number } }[] })
        .hits ?? []
    ).map((h) => h._source);
    return new Map(hits.map((h) => [`${h.cluster}/${h.uid}`, String(h.resourceVersion)]));
  }
}
