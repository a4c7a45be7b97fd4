import type { Logger } from "@atoll/log";
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type BusNames, clusterOfSubject } from "./names.js";

const HOUR_NS = 3_600_000_000_000;
const TWO_MINUTES_NS = 120_000_000_000;

/** How many messages one cluster may have waiting in a stream it writes, unless configured. */
const DEFAULT_CLUSTER_BACKLOG = 1000;

/** How the streams and buckets are laid out; hub services take them from their settings. */
export interface TopologySettings {
  /** How many messages one cluster may have waiting in a stream it writes. */
  clusterBacklog?: number | undefined;
  /**
   * How many NATS servers keep a copy of each stream and bucket: 1 on a single server, 3 on a
   * cluster, so that losing one server loses no message and stops no publisher.
   */
  replicas?: number | undefined;
}

/**
 * Stream definitions; the dedupe window is what makes Nats-Msg-Id retries safe.
 *
 * The streams agents write (events and work statuses) share one account's storage, so each
 * cluster gets its own quota: every cluster publishes on a subject of its own, a message leaves
 * the stream once its consumer acks it (work-queue retention), and a cluster with clusterBacklog
 * messages waiting is refused more (discard new per subject) until the hub catches up. Its agent
 * backs off and retries; every other cluster goes on. One cluster can therefore hold at most
 * clusterBacklog × max_payload bytes.
 */
export function streamConfigs(
  names: BusNames,
  { clusterBacklog = DEFAULT_CLUSTER_BACKLOG, replicas = 1 }: TopologySettings = {},
): (Partial<StreamConfig> & { name: string })[] {
  const common = { storage: StorageType.File, duplicate_window: TWO_MINUTES_NS, num_replicas: replicas };
  const perClusterQuota = {
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    max_msgs_per_subject: clusterBacklog,
    discard_new_per_subject: true,
  };
  return [
    {
      ...common,
      ...perClusterQuota,
      name: names.streams.resources,
      subjects: [names.all("res")],
      max_age: 72 * HOUR_NS,
    },
    {
      ...common,
      name: names.streams.placement,
      subjects: [names.placement()],
      retention: RetentionPolicy.Workqueue,
    },
    {
      ...common,
      name: names.streams.work,
      subjects: [names.all("work")],
      retention: RetentionPolicy.Limits,
      max_age: 7 * 24 * HOUR_NS,
    },
    {
      ...common,
      ...perClusterQuota,
      name: names.streams.workStatus,
      subjects: [names.all("wstat")],
      max_age: 72 * HOUR_NS,
    },
    {
      ...common,
      name: names.streams.deadLetter,
      subjects: [names.all("dlq")],
      retention: RetentionPolicy.Limits,
      max_age: 14 * 24 * HOUR_NS,
    },
  ];
}

/** Most messages handed to a consumer's handler at once, unless it says. */
export const DEFAULT_MAX_BATCH = 256;
/** The agent's applier takes works this many at a time; the hub makes its consumer to match. */
export const WORK_MAX_BATCH = 8;

/**
 * How many messages a consumer may have delivered and unacked: its running batches, the batch
 * being prepared and two more queued. The server delivers no more until acks come, so a backlog
 * waits in the stream, on disk, instead of in the consuming process. A pull is refilled as its
 * messages arrive, not as they are handled, so before this bound a consumer took in its subject's
 * whole backlog (a cluster's quota is 1,000 messages of up to 512 KiB) however slowly it worked,
 * and an indexer facing a fleet that relisted at once could run out of memory.
 */
export function inFlightLimit(maxBatch = DEFAULT_MAX_BATCH, concurrentBatches = 1): number {
  return maxBatch * (concurrentBatches + 3);
}
/** What a pull-mode agent's work consumer may hold unacked: its applier's batches' worth. */
export const WORK_IN_FLIGHT = inFlightLimit(WORK_MAX_BATCH);
/** Creates streams and the clusters bucket, or updates them in place; safe to run at every start. */
export async function ensureTopology(
  jsm: JetStreamManager,
  js: JetStreamClient,
  names: BusNames,
  options: TopologySettings & { logger: Logger },
): Promise<void> {
  for (const config of streamConfigs(names, options)) {
    let existing: StreamConfig;
    try {
      existing = (await jsm.streams.info(config.name)).config;
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound)
        throw error;
      await jsm.streams.add(config);
      continue;
    }
    if (existing.retention === config.retention) {
      await jsm.streams.update(config.name, config);
    } else if (await drained(jsm, config.name)) {
      // NATS cannot change a stream's retention in place. A stream whose every message has been
      // handled holds nothing a consumer still needs, so it is made again with the new one.
      await jsm.streams.delete(config.name);
      await jsm.streams.add(config);
      options.logger.info(
        { stream: config.name, from: existing.retention, to: config.retention },
        "recreated a drained stream with its new retention",
      );
    } else {
      options.logger.warn(
        { stream: config.name, retention: existing.retention, wanted: config.retention },
        "a stream still holds unhandled messages under its old retention; it keeps it (and shares storage " +
          "across clusters) until its consumers have caught up and a hub service restarts",
      );
    }
  }
  await new Kvm(js).create(names.clustersBucket, { history: 1, replicas: options.replicas ?? 1 });
  await boundWorkConsumers(jsm, names);
}

/** A cluster's work consumer, as the registry makes it (names throw on what is not a cluster's). */
function isAgentsWorkConsumer(names: BusNames, consumer: string, filter: string): boolean {
  try {
    const cluster = clusterOfSubject(filter);
    return filter === names.work(cluster) && consumer === names.workConsumer(cluster);
  } catch {
    return false;
  }
}

/**
 * Brings the work consumers of pull-mode agents made before the in-flight bound down to it: an
 * agent may not change its own consumer, so the hub does, once, at a start.
 */
async function boundWorkConsumers(jsm: JetStreamManager, names: BusNames): Promise<void> {
  const unbounded: string[] = [];
  for await (const consumer of jsm.consumers.list(names.streams.work))
    if (
      isAgentsWorkConsumer(names, consumer.name, consumer.config.filter_subject ?? "") &&
      consumer.config.max_ack_pending !== WORK_IN_FLIGHT
    )
      unbounded.push(consumer.name);
  for (const consumer of unbounded)
    await jsm.consumers.update(names.streams.work, consumer, { max_ack_pending: WORK_IN_FLIGHT });
}

/**
 * Whether a stream holds nothing still to handle: every consumer has acked all it was given and
 * has nothing waiting, and every subject with messages has a consumer (a cluster whose consumer
 * does not exist yet has unhandled messages).
 */
async function drained(jsm: JetStreamManager, stream: string): Promise<boolean> {
  const filters: string[] = [];
  for await (const consumer of jsm.consumers.list(stream)) {
    if (consumer.num_pending > 0 || consumer.num_ack_pending > 0) return false;
    filters.push(consumer.config.filter_subject ?? ">");
  }
  const { state } = await jsm.streams.info(stream, { subjects_filter: ">" });
  return Object.keys(state.subjects ?? {}).every((subject) =>
    filters.some((filter) => subjectMatches(filter, subject)),
  );
}

/** NATS subject matching: `*` stands for one token, a final `>` for one or more. */
function subjectMatches(filter: string, subject: string): boolean {
  const wanted = filter.split(".");
  const tokens = subject.split(".");
  for (const [i, token] of wanted.entries()) {
    if (token === ">") return tokens.length > i;
    if (i >= tokens.length || (token !== "*" && token !== tokens[i])) return false;
  }
  return wanted.length === tokens.length;
}
