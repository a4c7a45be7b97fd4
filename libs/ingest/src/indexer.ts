import { setImmediate as nextTurn } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { type Bus, type Consumption, isUnreachable } from "@atoll/bus";
import { heartbeatCodec, resourceBatchCodec } from "@atoll/contracts";
import { CROSS_OBJECT_RULES, type InsightConfig, objectIssues } from "@atoll/insight";
import type { Logger } from "@atoll/log";
import {
  applyIndexPlan,
  type ClusterHeartbeatRow,
  databaseAnswers,
  databaseUnavailable,
  deletedClusters,
  heartbeatToRow,
  type IndexOp,
  type ObjectIssues,
  planIndexOps,
  pruneTombstones,
  recordHeartbeats,
  recordIssues,
  type SettledOp,
  settledOps,
} from "@atoll/store";
import type postgres from "postgres";
import type { CrossPassAnswer } from "./cross-pass-worker.js";
import { ClusterLeases } from "./leases.js";
import { batchToOps, invalidBatchReason, parseObjects } from "./ops.js";

/** A cluster's cross-object pass waits this many times its last pass's duration before the next. */
const CROSS_PASS_SPACING = 4;

export interface ResourceIndexerOptions {
  bus: Bus;
  sql: postgres.Sql;
  /** The same database, for the cross-object passes' own thread and connection. */
  databaseUrl: string;
  logger: Logger;
  durable?: string;
  maxBatch?: number;
  ackWaitMs?: number;
  /** How long a dead indexer's clusters wait before another takes them over. */
  leaseTtlMs?: number;
  /**
   * A second back end (OpenSearch), given every batch as Postgres settled it after the commit
   * (see settledOps); the batch is acked only after both.
   */
  mirror?: { apply(ops: SettledOp[]): Promise<void> };
  /** Which audit and diagnosis rules run on each change, at what severity, and who is exempt. */
  insight?: InsightConfig;
  /** How often clusters that changed get their cross-object pass. */
  crossObjectMs?: number;
}

/**
 * RESOURCES → Postgres. Each cluster has its own durable consumer and, among all indexer
 * processes, exactly one reader (ClusterLeases), which keeps that cluster's events in order while
 * clusters spread across processes. Each batch of messages becomes one transaction; messages are
 * acked only after it commits, and the same batch is retried in order while Postgres is down.
 * Heartbeats from the clusters bucket keep the clusters table current.
 */
export class ResourceIndexer {
  private readonly consumers = new Map<string, Consumption>();
  /** Clusters whose heartbeat is in the bucket, from the watch: the lease passes' list of clusters. */
  private readonly heard = new Set<string>();
  private leases: ClusterLeases | undefined;
  private heartbeatWatch: { stop(): void } | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private crossTimer: NodeJS.Timeout | undefined;
  /** Clusters changed since their last cross-object pass. */
  private readonly dirty = new Set<string>();
  /** When each cluster's next cross-object pass may start (see crossObjectPass). */
  private readonly crossNotBefore = new Map<string, number>();
  private crossRunning = false;
  private crossWorker: Worker | undefined;
  /** Settles the pass the worker is running; passes run one at a time. */
  private crossAnswer: ((answer: CrossPassAnswer) => void) | undefined;

  constructor(private readonly options: ResourceIndexerOptions) {}

  async start(): Promise<void> {
    const { bus, logger } = this.options;
    this.leases = new ClusterLeases({
      bus,
      logger,
      ...(this.options.leaseTtlMs ? { ttlMs: this.options.leaseTtlMs } : {}),
      onAcquire: (cluster) => this.startCluster(cluster),
      heardFrom: () => this.heard,
      onRelease: async (cluster) => {
        const consumption = this.consumers.get(cluster);
        this.consumers.delete(cluster);
        await consumption?.stop();
      },
    });
    await this.leases.start();
    this.watchHeartbeats();
    this.pruneTimer = setInterval(() => {
      pruneTombstones(this.options.sql).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, "could not prune tombstones"),
      );
    }, 3_600_000);
    this.crossTimer = setInterval(() => void this.crossObjectPass(), this.options.crossObjectMs ?? 15_000);
  }

  /**
   * Rules that read other objects (PDBs, roles, selectors, references, events) run over a whole
   * cluster, shortly after its objects change, rather than on every single change. They run on
   * a thread of their own, so batches keep flowing meanwhile; and as a pass over a large cluster
   * takes seconds of a core and of the database, the next one for that cluster waits at least
   * CROSS_PASS_SPACING times as long: passes never take more than a fifth of that, and a
   * 100k-object cluster's initial sync is not starved by passes over its growing self.
   */
  private async crossObjectPass(): Promise<void> {
    if (this.crossRunning || this.dirty.size === 0) return;
    this.crossRunning = true;
    const { logger } = this.options;
    try {
      for (const cluster of [...this.dirty]) {
        if ((this.crossNotBefore.get(cluster) ?? 0) > Date.now()) continue;
        this.dirty.delete(cluster);
        if (!this.consumers.has(cluster)) continue;
        const started = Date.now();
        const answer = await this.passOnWorker(cluster);
        const ms = Date.now() - started;
        this.crossNotBefore.set(cluster, Date.now() + CROSS_PASS_SPACING * ms);
        if ("error" in answer) {
          this.dirty.add(cluster);
          logger.warn(
            { cluster, err: answer.error },
            "the cross-object rules could not run; they run again later",
          );
        } else logger.debug({ cluster, objects: answer.objects, ms }, "cross-object pass");
      }
    } finally {
      this.crossRunning = false;
    }
  }

  /** Runs one cluster's pass on the worker thread, started on first use and again after it dies. */
  private passOnWorker(cluster: string): Promise<CrossPassAnswer> {
    if (!this.crossWorker) {
      const worker = new Worker(new URL("./cross-pass-worker.js", import.meta.url), {
        workerData: { databaseUrl: this.options.databaseUrl, insight: this.options.insight },
      });
      const settle = (answer: CrossPassAnswer) => {
        const resolve = this.crossAnswer;
        this.crossAnswer = undefined;
        resolve?.(answer);
      };
      worker.on("message", settle);
      worker.on("error", (error) => settle({ error: error.message }));
      worker.on("exit", (code) => {
        if (this.crossWorker === worker) this.crossWorker = undefined;
        settle({ error: `the cross-object worker stopped with code ${code}` });
      });
      this.crossWorker = worker;
    }
    const worker = this.crossWorker;
    return new Promise((resolve) => {
      this.crossAnswer = resolve;
      worker.postMessage({ cluster });
    });
  }

  private async startCluster(cluster: string): Promise<void> {
    const { bus, sql } = this.options;
    const logger = this.options.logger.child({ cluster });
    const consumption = await bus.consume({
      stream: bus.names.streams.resources,
      durable: `${this.options.durable ?? "indexer"}-${cluster}`,
      filterSubject: bus.names.resources(cluster),
      codec: resourceBatchCodec,
      maxBatch: this.options.maxBatch ?? 32,
      ...(this.options.ackWaitMs ? { ackWaitMs: this.options.ackWaitMs } : {}),
      validate: invalidBatchReason,
      transient: (error) => databaseUnavailable(error) || isUnreachable(error),
      dependenciesAnswer: async () => (await bus.answers()) && (await databaseAnswers(sql)),
      // Parsing, the single-object rules and the statements' payloads are a batch's CPU work,
      // done for the next batch while this one is written, a message at a time: a large cluster's
      // sync takes about as long as its writes rather than the sum of the two.
      prepare: async (deliveries) => {
        const ops: IndexOp[] = [];
        const objects = new Map<IndexOp, Record<string, unknown>>();
        const findings = new Map<string, ObjectIssues>();
        for (const { data } of deliveries) {
          const messageOps = batchToOps(data);
          const parsed = parseObjects(messageOps);
          for (const found of this.findingsOf(cluster, messageOps, parsed, logger))
            findings.set(found.uid, found);
          for (const [op, object] of parsed) objects.set(op, object);
          ops.push(...messageOps);
          await nextTurn();
        }
        return { ops, plan: await planIndexOps(ops, objects, nextTurn), findings: [...findings.values()] };
      },
      handler: async (deliveries, { ops, plan, findings }) => {
        // The tombstone list is tiny; reading it per batch means a deletion takes effect at once.
        if ((await deletedClusters(sql)).has(cluster)) {
          logger.info({ dropped: deliveries.length }, "dropped events of a deleted cluster");
          return;
        }
        const result = await applyIndexPlan(sql, plan);
        await recordIssues(sql, findings, { exceptRules: CROSS_OBJECT_RULES });
        this.dirty.add(cluster);
        if (this.options.mirror) await this.options.mirror.apply(await settledOps(sql, ops));
        // Watches over the index wake on this; a lost announcement only delays them to their next poll.
        if (result.upserted + result.deleted + result.swept > 0) bus.nc.publish(bus.names.indexed(), cluster);
        logger.debug({ messages: deliveries.length, ops: ops.length, ...result }, "indexed");
      },
    });
    this.consumers.set(cluster, consumption);
  }

  /**
   * Single-object audit and diagnosis rules run on every change, so the issues table is always
   * current: new findings open, fixed ones resolve, deleted objects' findings resolve. The last
   * operation on each object decides its findings.
   */
  private findingsOf(
    cluster: string,
    ops: IndexOp[],
    objects: Map<IndexOp, Record<string, unknown>>,
    logger: Logger,
  ): ObjectIssues[] {
    const latest = new Map<string, ObjectIssues>();
    for (const op of ops) {
      if (op.op === "upsert") {
        const { row } = op;
        let issues: ObjectIssues["issues"] = [];
        try {
          issues = objectIssues(objects.get(op) ?? {}, this.options.insight);
        } catch (error) {
          logger.warn(
            { uid: row.uid, err: (error as Error).message },
            "could not evaluate the rules on an object",
          );
        }
        latest.set(row.uid, {
          cluster,
          uid: row.uid,
          kind: row.kind,
          namespace: row.namespace,
          name: row.name,
          issues,
        });
      } else if (op.op === "delete") {
        latest.set(op.uid, { cluster, uid: op.uid, kind: "", namespace: "", name: "", issues: [] });
      }
    }
    return [...latest.values()];
  }

  /**
   * Records heartbeats as they arrive, coalesced: while one write is in flight, the latest beat
   * of each cluster waits for the next, so however fast a fleet beats, the table lags by one
   * write at most, instead of a queue of one write per beat.
   */
  private watchHeartbeats(): void {
    const { bus, sql, logger } = this.options;
    const waiting = new Map<string, ClusterHeartbeatRow>();
    let writing = false;
    const write = async () => {
      while (waiting.size > 0) {
        const rows = [...waiting.values()];
        waiting.clear();
        try {
          await recordHeartbeats(sql, rows);
        } catch (error) {
          // A heartbeat is superseded within seconds, so a failed write is logged, not retried.
          logger.warn(
            { clusters: rows.length, err: (error as Error).message },
            "could not record heartbeats",
          );
        }
      }
      writing = false;
    };
    this.heartbeatWatch = bus.watchClusters(async (entry) => {
      if (entry.operation !== "PUT") {
        this.heard.delete(entry.key);
        return;
      }
      this.heard.add(entry.key);
      // A cluster heard from for the first time gets an indexer without waiting for the next pass.
      if (!this.consumers.has(entry.key)) void this.leases?.reconcile();
      try {
        const heartbeat = heartbeatCodec.decode(entry.value);
        // An agent's first beat carries no capacity: the table keeps the last full one.
        if (heartbeat.starting) return;
        const row = heartbeatToRow(heartbeat);
        waiting.set(row.name, row);
      } catch (error) {
        logger.warn({ cluster: entry.key, err: (error as Error).message }, "could not read a heartbeat");
        return;
      }
      if (!writing) {
        writing = true;
        void write();
      }
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    clearInterval(this.crossTimer);
    await this.crossWorker?.terminate();
    this.heartbeatWatch?.stop();
    await this.leases?.stop();
  }
}
