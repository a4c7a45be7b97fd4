import type { Logger } from "@atoll/log";
import type postgres from "postgres";

/** One committed change to the index, with the object as it is now (or was, when deleted). */
export interface ChangeEvent {
  id: bigint;
  type: "ADDED" | "MODIFIED" | "DELETED";
  cluster: string;
  uid: string;
  apiGroup: string;
  kind: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  object: Record<string, unknown>;
}

export async function latestChangeId(sql: postgres.Sql): Promise<bigint> {
  const [row] = await sql`select coalesce(max(id), 0)::text as id from resource_changes`;
  return BigInt(row?.id ?? 0);
}

export async function oldestChangeId(sql: postgres.Sql): Promise<bigint> {
  const [row] = await sql`select coalesce(min(id), 0)::text as id from resource_changes`;
  return BigInt(row?.id ?? 0);
}

/** Every change row with after < id <= upTo, oldest first; event is absent when the object has since gone. */
async function readChangeRows(
  sql: postgres.Sql,
  after: bigint,
  limit: number,
  upTo?: bigint,
): Promise<{ id: bigint; event?: ChangeEvent }[]> {
  const rows = await sql`
    select c.id::text as id, c.change_type, c.cluster, c.uid, c.api_group, c.kind, c.namespace, c.name,
      c.resource_version::text as rv,
      case when c.change_type = 'DELETED' then c.object else r.object end as object
    from resource_changes c
    left join resources r on c.change_type <> 'DELETED' and r.cluster = c.cluster and r.uid = c.uid
    where c.id > ${after.toString()}::bigint ${upTo === undefined ? sql`` : sql`and c.id <= ${upTo.toString()}::bigint`}
    order by c.id limit ${limit}`;
  return rows.map((r) => {
    const id = BigInt(r.id as string);
    const type = r.change_type as ChangeEvent["type"];
    // An ADDED or MODIFIED change whose object was deleted since: its DELETED change follows.
    if (type !== "DELETED" && r.object === null) return { id };
    return {
      id,
      event: {
        id,
        type,
        cluster: r.cluster as string,
        uid: r.uid as string,
        apiGroup: r.api_group as string,
        kind: r.kind as string,
        namespace: r.namespace as string,
        name: r.name as string,
        resourceVersion: r.rv as string,
        // Deletions recorded before objects were kept in the history carry only their identity.
        object: (r.object as Record<string, unknown> | null) ?? {
          kind: r.kind,
          metadata: { name: r.name, ...(r.namespace ? { namespace: r.namespace } : {}), uid: r.uid },
        },
      },
    };
  });
}

/** Changes with after < id <= upTo, oldest first, for catching a watch up to the live feed. */
export async function readChanges(
  sql: postgres.Sql,
  after: bigint,
  limit: number,
  upTo?: bigint,
): Promise<{ events: ChangeEvent[]; last?: bigint }> {
  const rows = await readChangeRows(sql, after, limit, upTo);
  return {
    events: rows.flatMap((r) => (r.event ? [r.event] : [])),
    ...(rows.length ? { last: rows.at(-1)!.id } : {}),
  };
}

export interface ChangeFeedOptions {
  logger: Logger;
  /** Polls this often even without a wake-up, in case one is lost. */
  pollMs?: number;
  /**
   * Ids are taken when a transaction inserts, not when it commits, so a lower id can become
   * visible after a higher one. The feed waits this long at a gap before deciding the id was
   * rolled back.
   */
  gapGraceMs?: number;
  batch?: number;
}

type Listener = (events: ChangeEvent[]) => void;

/**
 * Follows the index's change history in commit-safe id order and hands every change to its
 * listeners. Indexers announce commits on the bus (wake); polling covers a lost announcement.
 */
export class ChangeFeed {
  private cursor = 0n;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private gapSince: number | undefined;
  private stopped = false;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly options: ChangeFeedOptions,
  ) {}

  /** The last id handed to listeners; everything up to it has been delivered. */
  get position(): bigint {
    return this.cursor;
  }

  async start(): Promise<void> {
    this.cursor = await latestChangeId(this.sql);
    this.schedule(this.options.pollMs ?? 2000);
  }

  /** How many listeners are subscribed, which is how many watches are open. */
  get subscribers(): number {
    return this.listeners.size;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A commit was announced: read now (or right after the read in progress). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.listeners.clear();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.wake(), ms);
  }

  private async poll(): Promise<void> {
    const batch = this.options.batch ?? 1000;
    const grace = this.options.gapGraceMs ?? 10_000;
    let next = this.options.pollMs ?? 2000;
    try {
      const rows = await readChangeRows(this.sql, this.cursor, batch);
      const delivered: ChangeEvent[] = [];
      for (const row of rows) {
        if (row.id !== this.cursor + 1n && this.cursor !== 0n) {
          this.gapSince ??= Date.now();
          if (Date.now() - this.gapSince < grace) {
            next = 100;
            break;
          }
          this.options.logger.warn(
            { after: String(this.cursor), next: String(row.id) },
            "skipped a gap in change ids",
          );
        }
        this.gapSince = undefined;
        this.cursor = row.id;
        if (row.event) delivered.push(row.event);
      }
      if (delivered.length) for (const listener of this.listeners) listener(delivered);
      if (rows.length === batch && next !== 100) next = 0;
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, "could not read the change history");
    }
    this.schedule(next);
  }
}
