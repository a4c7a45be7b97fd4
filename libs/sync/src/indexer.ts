import type { Bus, Consumption } from "@atoll/bus";
import type { Logger } from "@atoll/log";
import { applyIndexOps, deletedClusters, type IndexOp, pruneTombstones, recordHeartbeat } from "@atoll/store";
import type postgres from "postgres";
import { heartbeatCodec, resourceBatchCodec } from "./cluster-sync.js";
import { heartbeatToRow } from "./heartbeat.js";
import { batchToOps, invalidBatchReason } from "./ops.js";

export interface ResourceIndexerOptions {
  bus: Bus;
  sql: postgres.Sql;
  logger: Logger;
  durable?: string;
  maxBatch?: number;
  ackWaitMs?: number;
  /** A second back end (OpenSearch) written after Postgres; the batch is acked only after both. */
  mirror?: { apply(ops: IndexOp[]): Promise<void> };
}

/**
 * RESOURCES → Postgres. Each batch of messages becomes one transaction; the bus acks the messages
 * only after it commits, and retries the same batch in order while Postgres is unavailable.
 * Heartbeats from the clusters bucket keep the clusters table current.
 */
export class ResourceIndexer {
  private consumption: Consumption | undefined;
  private heartbeatWatch: { stop(): void } | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  indexedBatches = 0;

  constructor(private readonly options: ResourceIndexerOptions) {}

  async start(): Promise<void> {
    const { bus, sql, logger } = this.options;
    this.consumption = await bus.consume({
      stream: bus.names.streams.resources,
      durable: this.options.durable ?? "indexer",
      filterSubject: bus.names.all("res"),
      codec: resourceBatchCodec,
      maxBatch: this.options.maxBatch ?? 256,
      ...(this.options.ackWaitMs ? { ackWaitMs: this.options.ackWaitMs } : {}),
      validate: invalidBatchReason,
      handler: async (deliveries) => {
        // The tombstone list is tiny; reading it per batch means a deletion takes effect at once.
        const deleted = await deletedClusters(sql);
        const live = deliveries.filter(({ data }) => !deleted.has(data.cluster));
        if (live.length < deliveries.length)
          logger.info({ dropped: deliveries.length - live.length }, "dropped events of deleted clusters");
        const ops = live.flatMap(({ data }) => batchToOps(data));
        const result = await applyIndexOps(sql, ops);
        await this.options.mirror?.apply(ops);
        this.indexedBatches += deliveries.length;
        logger.debug({ messages: deliveries.length, ops: ops.length, ...result }, "indexed");
      },
    });
    await this.watchHeartbeats();
    this.pruneTimer = setInterval(() => {
      pruneTombstones(sql).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, "could not prune tombstones"),
      );
    }, 3_600_000);
  }

  private async watchHeartbeats(): Promise<void> {
    const { bus, sql, logger } = this.options;
    const kv = await bus.clusters();
    const watch = await kv.watch();
    this.heartbeatWatch = { stop: () => watch.stop() };
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") continue;
        try {
          await recordHeartbeat(sql, heartbeatToRow(heartbeatCodec.decode(entry.value)));
        } catch (error) {
          // A heartbeat is superseded within seconds, so a failed one is logged, not retried.
          logger.warn({ cluster: entry.key, err: (error as Error).message }, "could not record a heartbeat");
        }
      }
    })();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.heartbeatWatch?.stop();
    await this.consumption?.stop();
  }
}
