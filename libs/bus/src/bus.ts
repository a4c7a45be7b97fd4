import { readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Codec, DescMessage, MessageShape } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type PubAck,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import {
  connect,
  createInbox,
  headers,
  type NatsConnection,
  NoRespondersError,
  nkeyAuthenticator,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import { assertClusterName, type BusNames, busNames } from "./names.js";
import {
  DEFAULT_MAX_BATCH,
  ensureTopology,
  inFlightLimit,
  type TopologySettings,
  WORK_IN_FLIGHT,
} from "./topology.js";

export interface BusOptions {
  url: string;
  /** Connection name shown by the server, e.g. "indexer" or "agent/prod-1". */
  name: string;
  prefix?: string;
  logger: Logger;
  user?: string;
  pass?: string;
  /** An nkey seed (the contents of an agent's credentials file). */
  nkeySeed?: string;
  /** A file holding an nkey seed; read at connect time. */
  credentialsFile?: string;
  /** Inbox prefix; a pull-mode agent must use its cluster's, the only inbox it may read. */
  inboxPrefix?: string;
  /** The layout of streams and buckets a hub service declares (ensureTopology). */
  topology?: TopologySettings;
}

/** The settings every hub service reads from its environment (commonConfig), as they come. */
export interface HubBusSettings {
  NATS_URL: string;
  ATOLL_BUS_PREFIX: string;
  ATOLL_BUS_CLUSTER_BACKLOG?: number | undefined;
  ATOLL_BUS_REPLICAS?: number | undefined;
  NATS_CREDENTIALS?: string | undefined;
}

export class BusAuthError extends Error {
  readonly code = "NATS_AUTH_REFUSED";
}

export interface Delivery<T> {
  readonly msg: JsMsg;
  readonly data: T;
}

export interface ConsumeOptions<Desc extends DescMessage, Prepared = undefined> {
  stream: string;
  durable: string;
  filterSubject: string;
  codec: Codec<Desc>;
  /** Most messages handed to one call of the handler. */
  maxBatch?: number;
  /**
   * Batches handled at once (1 by default). With more, the next batch starts while the last one
   * finishes; each is acked on its own once its handler resolves, so a handler that runs
   * alongside itself must order what its batches share.
   */
  concurrentBatches?: number;
  /** How long a delivered, unacked message waits before redelivery (e.g. after a crash). */
  ackWaitMs?: number;
  /** Checks a decoded message beyond the codec; a returned string is the reason to dead-letter it. */
  validate?: (data: MessageShape<Desc>, subject: string) => string | undefined;
  /**
   * The durable consumer exists already and may not be changed by this identity: a pull-mode
   * agent may only pull from the work consumer the hub made for it.
   */
  existingConsumer?: boolean;
  /**
   * The part of handling a batch that needs only its messages (parsing, pure rules, building
   * statements). While one batch's handler waits on I/O, the next batch is prepared, so a
   * consumer of one busy subject keeps its CPU work off the path its writes take one at a time.
   * It must not depend on what earlier batches did, and should await between slices of its work,
   * so the handler running alongside gets the event loop. Throwing counts as the handler failing.
   */
  prepare?: (batch: Delivery<MessageShape<Desc>>[]) => Prepared | Promise<Prepared>;
  /**
   * Processes a batch, with what prepare made of it; resolves only once its effects are durable.
   * Throwing retries the same batch.
   */
  handler: (batch: Delivery<MessageShape<Desc>>[], prepared: Prepared) => Promise<void>;
  /**
   * Says when a handler's error is the fault of what the handler depends on (the database or the
   * bus out of reach, a timeout, a serialization failure) rather than of the messages: the same
   * batch is then retried with backoff. Any other error, whatever its class, is taken as some
   * message's fault: the batch is split until that message is found, and it is dead-lettered with
   * the error as its reason, so one bad message never stalls its stream. Defaults to isUnreachable.
   */
  transient?: (error: unknown) => boolean;
  /**
   * Whether what the handler depends on answers right now. A single message whose handling keeps
   * failing with a "transient" error while this says yes is at fault after all (a statement it
   * makes time out, say) and is dead-lettered. Defaults to whether NATS answers.
   */
  dependenciesAnswer?: () => Promise<boolean>;
}

/** A dead-lettered message, as an operator looks at it. */
export interface DeadLetter {
  /** Its sequence in the dead-letter stream: what show and replay name it by. */
  seq: number;
  /** The consumer that gave up on it, e.g. "indexer-prod-1" or "scheduler". */
  consumer: string;
  /** Where it was published, and its sequence in that stream. */
  subject: string;
  streamSeq: number;
  reason: string;
  time: string;
  data: Uint8Array;
}

export interface Consumption {
  /** Stops taking new messages, lets the in-flight batch finish and returns when it has. */
  stop(): Promise<void>;
}

const DEFAULT_ACK_WAIT_MS = 30_000;
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 10_000;
/** A batch failing this often, even for a transient reason, is split in case one message causes it. */
const SPLIT_AFTER_FAILURES = 3;
/** How often a clusters watch makes sure its bucket still exists. */
const CLUSTERS_CHECK_MS = 2_000;
const CLOSE_WAIT_MS = 5_000;
/**
 * How long one pull request waits on the server. The client notices a pull the server lost (its
 * consumer's leader died with it) after two missed heartbeats of half this, and pulls again: at
 * the default 30 s, a cluster's works stalled for half a minute after a NATS server died.
 */
const PULL_EXPIRES_MS = 10_000;
/** How long a check that the server answers waits for it. */
const ANSWER_WAIT_MS = 3_000;
/** How long publishAll waits for JetStream to store its messages, however many there are. */
const PUBLISH_ACK_TIMEOUT_MS = 10_000;

/** An error as a dead letter's reason or a log field: its class and message, never its stack. */
const errorText = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a starting service waits for a NATS server that is not up yet before giving up. */
const STARTUP_PATIENCE_MS = 120_000;

/** JetStream's codes for a stream or consumer whose servers are not there to serve it right now. */
const OFFLINE_CODES = new Set([10118, 10119]);

/**
 * Whether an error says JetStream could not take a request just now, which no message can cause:
 * nobody answered it (a stream with no leader while a server is replaced, which the client reports
 * as "jetstream is not enabled"), it timed out, or JetStream said it is unavailable or the stream
 * offline. A consumer retries such a batch as it is until JetStream answers; it never splits it or
 * dead-letters a message for it.
 */
const isBusUnavailable = (error: unknown): boolean =>
  error instanceof NoRespondersError ||
  error instanceof TimeoutError ||
  (error instanceof JetStreamApiError && (error.status === 503 || OFFLINE_CODES.has(error.code))) ||
  (error instanceof RequestError && error.isNoResponders()) ||
  (error instanceof Error && error.name === "JetStreamNotEnabled" && isBusUnavailable(error.cause));

/** Whether an error says a server (NATS, or any other the caller talks to) could not be reached or answered too late. */
export const isUnreachable = (error: unknown) =>
  isBusUnavailable(error) ||
  /ECONNREFUSED|connection refused|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|timeout|disconnect|closed/i.test(
    `${(error as Error)?.name ?? ""} ${(error as Error)?.message ?? ""} ${(error as { code?: string })?.code ?? ""}`,
  );

/**
 * Whether the hub refused a publish because the publisher's cluster already has its quota of
 * messages waiting in the stream (see streamConfigs): back off and retry, nothing is wrong.
 */
export const isBacklogFull = (error: unknown) =>
  /maximum messages per subject exceeded/i.test((error as Error)?.message ?? "");

/**
 * Runs a start-up step against NATS, retrying it while the server cannot be reached or does not
 * answer: services and agents often start before NATS does, or while it restarts, and a crash
 * loop there would only add noise. Any other error (refused credentials, say) fails at once.
 */
export async function retryWhileUnreachable<T>(
  what: string,
  step: () => Promise<T>,
  logger: Logger,
  patienceMs = STARTUP_PATIENCE_MS,
): Promise<T> {
  const giveUpAt = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isUnreachable(error) || Date.now() >= giveUpAt) throw error;
      const delay = Math.min(RETRY_BASE_MS * 2 ** attempt, 5_000);
      logger.warn(
        { err: (error as Error).message, retryInMs: delay },
        `${what}: NATS did not answer; retrying`,
      );
      await sleep(delay);
    }
  }
}

export class Bus {
  readonly names: BusNames;
  readonly js: JetStreamClient;
  private clustersKv: KV | undefined;
  /** Where JetStream acknowledges publishAll's messages; made on first use. */
  private acks: { inbox: string; next: number; waiting: Map<string, (error?: Error) => void> } | undefined;

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    private readonly logger: Logger,
    prefix: string,
    private readonly topology: TopologySettings,
    private readonly inboxPrefix?: string,
  ) {
    this.names = busNames(prefix);
    this.js = jetstream(nc);
  }

  /**
   * A hub service's connection, named after the service, with its streams, consumers and buckets
   * declared: every hub service starts the same way.
   */
  static async connectHub(settings: HubBusSettings, name: string, logger: Logger): Promise<Bus> {
    const bus = await Bus.connect({
      url: settings.NATS_URL,
      name,
      prefix: settings.ATOLL_BUS_PREFIX,
      topology: { clusterBacklog: settings.ATOLL_BUS_CLUSTER_BACKLOG, replicas: settings.ATOLL_BUS_REPLICAS },
      logger,
      ...(settings.NATS_CREDENTIALS ? { credentialsFile: settings.NATS_CREDENTIALS } : {}),
    });
    await bus.ensureTopology();
    return bus;
  }

  static async connect(options: BusOptions): Promise<Bus> {
    let nc: NatsConnection;
    const seed =
      options.nkeySeed ??
      (options.credentialsFile ? readFileSync(options.credentialsFile, "utf8") : undefined);
    const logger = options.logger.child({ component: "bus" });
    try {
      nc = await retryWhileUnreachable(
        `connecting to ${options.url}`,
        () =>
          connect({
            // A NATS cluster is named by several URLs, comma-separated; one is enough to learn the rest.
            servers: options.url.split(",").map((url) => url.trim()),
            name: options.name,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 1000,
            // The client otherwise builds an Error per request and publish, for a stack nobody
            // reads (logs carry the message alone): 4% of the scheduler's time placing 10,000 templates.
            noAsyncTraces: true,
            ...(options.user ? { user: options.user, pass: options.pass } : {}),
            ...(seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed.trim())) } : {}),
            ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
          }),
        logger,
      );
    } catch (error) {
      if (
        /authorization/i.test(String((error as Error).message ?? "")) ||
        (error as Error).name === "AuthorizationError"
      ) {
        throw new BusAuthError(
          `NATS at ${options.url} refused the credentials of "${options.name}" (${(error as Error).message}); check the credentials file, or re-issue it with \`atoll cluster register --pull\``,
        );
      }
      throw error;
    }
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "reconnect" || status.type === "error") {
          logger.warn(
            { natsStatus: status.type, server: "server" in status ? status.server : undefined },
            "nats connection status changed",
          );
        }
      }
    })();
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    return new Bus(nc, jsm, logger, options.prefix ?? "", options.topology ?? {}, options.inboxPrefix);
  }

  /** Declares streams and buckets; the hub services call this at start-up, agents do not. */
  ensureTopology(): Promise<void> {
    return retryWhileUnreachable(
      "declaring streams",
      () => ensureTopology(this.jsm, this.js, this.names, { ...this.topology, logger: this.logger }),
      this.logger,
    );
  }

  /**
   * Deletes every stream and bucket of this prefix: for a test or demo that made its own prefix,
   * so that stopping it leaves nothing behind on a shared server. Never for a running hub.
   */
  async removeTopology(): Promise<void> {
    const { streams, clustersBucket, leasesBucket, membersBucket } = this.names;
    for (const stream of [
      ...Object.values(streams),
      ...[clustersBucket, leasesBucket, membersBucket, this.names.leaderBucket("scheduler")].map((bucket) =>
        this.names.bucketStream(bucket),
      ),
    ])
      await this.jsm.streams.delete(stream).catch(() => false);
  }

  /**
   * Follows the clusters bucket (heartbeats) for as long as the bus lives. The watch is an
   * ordered consumer that the client re-creates after a reconnect; when that fails (the server
   * was away too long, or restarted), the watch is opened again instead of going quiet. An
   * ordered consumer on a deleted stream waits silently forever, so the bucket's stream is
   * checked every few seconds: a deleted bucket is declared again (this is a hub service, which
   * owns the topology) and a bucket made anew is watched anew.
   */
  watchClusters(onEntry: (entry: KvEntry) => Promise<void>): { stop(): void } {
    let stopped = false;
    let current: { stop(): void } | undefined;
    const stream = this.names.bucketStream(this.names.clustersBucket);
    let watchedStream = "";
    const check = setInterval(async () => {
      const created = await this.jsm.streams.info(stream).then(
        (info) => info.created,
        (error: Error) => (/not found/i.test(error.message) ? "" : undefined),
      );
      if (created === undefined || created === watchedStream || stopped) return;
      this.logger.warn(
        { stream },
        "the clusters bucket was deleted or made anew; declaring and watching it again",
      );
      if (created === "") await this.ensureClustersBucket().catch(() => undefined);
      current?.stop();
    }, CLUSTERS_CHECK_MS);
    void (async () => {
      for (let attempt = 0; !stopped; attempt++) {
        try {
          this.clustersKv = undefined;
          watchedStream = (await this.jsm.streams.info(stream)).created;
          const watch = await (await this.clusters()).watch();
          current = watch;
          if (stopped) watch.stop();
          attempt = 0;
          for await (const entry of watch) await onEntry(entry);
        } catch (error) {
          this.logger.warn({ err: (error as Error).message }, "the clusters watch failed; reopening it");
        }
        if (!stopped) await sleep(Math.min(RETRY_BASE_MS * 2 ** attempt, RETRY_MAX_MS));
      }
    })();
    return {
      stop: () => {
        stopped = true;
        clearInterval(check);
        current?.stop();
      },
    };
  }

  private async ensureClustersBucket(): Promise<void> {
    await this.bucket(this.names.clustersBucket);
  }

  /**
   * Opens one of the hub's key-value buckets, declaring it if it does not exist yet, with as many
   * copies as the streams have: a bucket on one server of a NATS cluster would make that server a
   * single point of failure for whatever the bucket holds (leases, leadership, heartbeats).
   */
  bucket(name: string, options: { ttlMs?: number } = {}): Promise<KV> {
    return new Kvm(this.js).create(name, {
      history: 1,
      replicas: this.topology.replicas ?? 1,
      ...(options.ttlMs === undefined ? {} : { ttl: options.ttlMs }),
    });
  }

  async clusters(): Promise<KV> {
    this.clustersKv ??= await new Kvm(this.js).open(this.names.clustersBucket);
    return this.clustersKv;
  }

  /**
   * Publishes many messages to streams at once and resolves when JetStream has stored every one,
   * or rejects with the first refusal or when `timeoutMs` passes first. As JetStream's
   * asynchronous publish does, the acknowledgements all come to one subscription: a request
   * apiece costs a subscription entry, a timer and an error object per message, which was most
   * of what publishing 30,000 works cost. Each msgId makes a retried message land once.
   */
  async publishAll(
    messages: { subject: string; data: Uint8Array; msgId: string }[],
    timeoutMs = PUBLISH_ACK_TIMEOUT_MS,
  ): Promise<void> {
    if (messages.length === 0) return;
    if (!this.acks) {
      const acks = { inbox: createInbox(this.inboxPrefix), next: 0, waiting: new Map() };
      this.nc.subscribe(`${acks.inbox}.*`, {
        callback: (error, msg) => {
          if (error) return;
          const settle = acks.waiting.get(msg.subject);
          if (!settle) return;
          acks.waiting.delete(msg.subject);
          if (msg.headers?.code === 503) return settle(new NoRespondersError(msg.subject));
          try {
            const answer = msg.json<{ error?: { code: number; err_code: number; description: string } }>();
            settle(answer.error ? new JetStreamApiError(answer.error) : undefined);
          } catch (parseError) {
            settle(parseError as Error);
          }
        },
      });
      this.acks = acks;
    }
    const { inbox, waiting } = this.acks;
    const replies: string[] = [];
    const stored = Promise.all(
      messages.map(
        ({ subject, data, msgId }) =>
          new Promise<void>((resolve, reject) => {
            const reply = `${inbox}.${this.acks!.next++}`;
            replies.push(reply);
            waiting.set(reply, (error) => (error ? reject(error) : resolve()));
            const header = headers();
            header.set("Nats-Msg-Id", msgId);
            this.nc.publish(subject, data, { reply, headers: header });
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError()), timeoutMs);
    });
    try {
      await Promise.race([stored, late]);
    } finally {
      clearTimeout(timer);
      for (const reply of replies) waiting.delete(reply);
      stored.catch(() => undefined);
    }
  }

  /** Publishes to a stream; msgId makes a retried publish land once within the dedupe window. */
  publish<Desc extends DescMessage>(
    subject: string,
    codec: Codec<Desc>,
    message: MessageShape<Desc>,
    msgId: string,
  ): Promise<PubAck> {
    return this.js.publish(subject, codec.encode(message), { msgID: msgId });
  }

  /**
   * Writes a cluster's heartbeat into the clusters bucket by publishing to the bucket's subject,
   * which needs no KV API permissions (an agent has none).
   */
  async putHeartbeat(cluster: string, bytes: Uint8Array): Promise<void> {
    await this.js.publish(
      this.names.bucketSubject(this.names.clustersBucket, assertClusterName(cluster)),
      bytes,
    );
  }

  /** Whether the NATS server answers a round trip within a few seconds. */
  async answers(): Promise<boolean> {
    return await Promise.race([
      this.nc.flush().then(
        () => true,
        () => false,
      ),
      sleep(ANSWER_WAIT_MS).then(() => false),
    ]);
  }

  /** Messages this process dead-lettered, by consumer: the counter an operator watches. */
  readonly deadLettered = new Map<string, number>();

  async deadLetter(msg: JsMsg, source: string, reason: string): Promise<void> {
    const h = headers();
    h.set("Atoll-Reason", reason.slice(0, 1000));
    h.set("Atoll-Original-Subject", msg.subject);
    h.set("Atoll-Original-Stream-Seq", String(msg.seq));
    // A consumer that dies between dead-lettering and acking sees the message again; its message id
    // keeps the second dead letter out of the stream.
    await this.js.publish(this.names.deadLetter(source), msg.data, {
      headers: h,
      msgID: `${source}:${msg.info.stream}:${msg.seq}`,
    });
    const total = (this.deadLettered.get(source) ?? 0) + 1;
    this.deadLettered.set(source, total);
    this.logger.warn(
      { consumer: source, subject: msg.subject, seq: msg.seq, reason, deadLettered: total },
      "dead-lettered a message",
    );
  }

  /**
   * Dead letters in stream order after a sequence, at most limit of them, and how many each
   * consumer has in the stream in all.
   */
  async deadLetters(
    options: { afterSeq?: number; limit?: number; consumer?: string } = {},
  ): Promise<{ items: DeadLetter[]; counts: Record<string, number> }> {
    const stream = this.names.streams.deadLetter;
    const info = await this.jsm.streams.info(stream, { subjects_filter: this.names.deadLetter(">") });
    const root = this.names.deadLetter("");
    const counts: Record<string, number> = {};
    for (const [subject, n] of Object.entries(info.state.subjects ?? {}))
      counts[subject.slice(root.length)] = n;
    const items: DeadLetter[] = [];
    const limit = options.limit ?? 100;
    for (
      let seq = Math.max(info.state.first_seq, (options.afterSeq ?? 0) + 1);
      seq <= info.state.last_seq && items.length < limit;
      seq++
    ) {
      const letter = await this.deadLetterAt(seq);
      if (letter && (options.consumer === undefined || letter.consumer === options.consumer))
        items.push(letter);
    }
    return { items, counts };
  }

  /** One dead letter, or undefined when there is none at that sequence (replayed, or expired). */
  async deadLetterAt(seq: number): Promise<DeadLetter | undefined> {
    const message = await this.jsm.streams
      .getMessage(this.names.streams.deadLetter, { seq })
      .catch((error: Error) => {
        if (/no message found|not found/i.test(error.message)) return null;
        throw error;
      });
    if (!message) return undefined;
    return {
      seq,
      consumer: message.subject.slice(this.names.deadLetter("").length),
      subject: message.header.get("Atoll-Original-Subject"),
      streamSeq: Number(message.header.get("Atoll-Original-Stream-Seq")),
      reason: message.header.get("Atoll-Reason"),
      time: message.time.toISOString(),
      data: message.data,
    };
  }

  /**
   * Publishes a dead letter again where it first went, for its consumer to try once more (after
   * a fix), and removes it from the dead-letter stream. Undefined when there is no such letter.
   */
  async replayDeadLetter(seq: number): Promise<DeadLetter | undefined> {
    const letter = await this.deadLetterAt(seq);
    if (!letter) return undefined;
    // Only back onto this hub's own subjects, whatever a header says.
    if (!letter.subject.startsWith(this.names.deadLetter("").replace(/dlq\.$/, "")))
      throw new Error(`dead letter ${seq} names subject ${letter.subject}, outside this hub's; not replayed`);
    await this.js.publish(letter.subject, letter.data, { msgID: `dead-letter-replay:${seq}` });
    await this.jsm.streams.deleteMessage(this.names.streams.deadLetter, seq);
    return letter;
  }

  /**
   * Creates the durable consumer, or updates the settings an existing one may change. With
   * resume, a consumer that has delivered messages nobody acked (its last reader crashed) is
   * recreated at its ack floor, so they come back first and in order instead of after the
   * ack wait, behind newer messages.
   *
   * A replicated consumer is never recreated: NATS 2.9 leaves a server that was down while a
   * consumer was deleted and made anew running a dead copy of it once it is back, so the consumer
   * has two live copies of three and stalls at the next server's loss. Its unacked messages come
   * back after the ack wait instead; every reader orders by version, not by arrival.
   */
  async ensureConsumer(
    stream: string,
    durable: string,
    filterSubject: string,
    options: { ackWaitMs?: number; resume?: boolean; maxAckPending?: number } = {},
  ): Promise<void> {
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filterSubject,
      ack_wait: (options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) * 1_000_000,
      max_ack_pending: options.maxAckPending ?? inFlightLimit(),
    };
    const existing = await this.jsm.consumers.info(stream, durable).catch(() => undefined);
    if (!existing) {
      await this.jsm.consumers.add(stream, config);
      return;
    }
    const floor = existing.ack_floor.stream_seq;
    const replicated = (existing.cluster?.replicas?.length ?? 0) > 0;
    if (options.resume && !replicated && existing.delivered.stream_seq > floor) {
      this.logger.info(
        { stream, consumer: durable, ackFloor: floor, delivered: existing.delivered.stream_seq },
        "resuming a consumer from its ack floor",
      );
      const { retention } = (await this.jsm.streams.info(stream)).config;
      await this.jsm.consumers.delete(stream, durable);
      // A work queue holds only what no consumer acked, so delivering all of it starts at the ack
      // floor (and a work queue refuses any other start).
      await this.jsm.consumers.add(
        stream,
        retention === RetentionPolicy.Workqueue
          ? config
          : { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 },
      );
      return;
    }
    await this.jsm.consumers.update(stream, durable, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
      filter_subject: filterSubject,
    });
  }

  /**
   * Makes a pull-mode agent's work consumer, bounded for it: the agent may not change its
   * consumer, so what it holds at once is set here.
   */
  ensureWorkConsumer(cluster: string): Promise<void> {
    return this.ensureConsumer(
      this.names.streams.work,
      this.names.workConsumer(cluster),
      this.names.work(cluster),
      {
        maxAckPending: WORK_IN_FLIGHT,
      },
    );
  }

  /**
   * Pull-consumes with explicit acks. Messages queue up while a batch is processed, so batches
   * grow under load and stay small (low latency) when idle. A failing handler is retried with the
   * same batch, in order, with backoff, and nothing is acked until it succeeds.
   */
  async consume<Desc extends DescMessage, Prepared = undefined>(
    options: ConsumeOptions<Desc, Prepared>,
  ): Promise<Consumption> {
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    const concurrentBatches = options.concurrentBatches ?? 1;
    const limit = inFlightLimit(maxBatch, concurrentBatches);
    if (!options.existingConsumer)
      await this.ensureConsumer(options.stream, options.durable, options.filterSubject, {
        ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
        resume: true,
        maxAckPending: limit,
      });
    const consumer = await this.js.consumers.get(options.stream, options.durable);
    const ackWaitMs =
      ((await consumer.info(true)).config.ack_wait ?? DEFAULT_ACK_WAIT_MS * 1_000_000) / 1_000_000;
    const queue: JsMsg[] = [];
    /** Batches being handled, each with its run (true once done, false if a stop cut it short). */
    const running = new Map<JsMsg[], Promise<boolean>>();
    let wake: (() => void) | undefined;
    let stopping = false;
    const messages = await consumer.consume({
      max_messages: limit,
      expires: PULL_EXPIRES_MS,
      callback: (msg) => {
        queue.push(msg);
        wake?.();
      },
    });
    const log = this.logger.child({ stream: options.stream, consumer: options.durable });
    const transient = options.transient ?? isUnreachable;
    const dependenciesAnswer = options.dependenciesAnswer ?? (() => this.answers());

    // Messages already dead-lettered (and acked) are remembered so a retried batch skips them.
    const deadLettered = new WeakSet<JsMsg>();
    /** `pausing`: decoding runs alongside a handler, which gets the event loop between messages. */
    const decodeBatch = async (raw: JsMsg[], pausing = false): Promise<Delivery<MessageShape<Desc>>[]> => {
      const batch: Delivery<MessageShape<Desc>>[] = [];
      for (const msg of raw) {
        if (pausing) await nextTurn();
        if (deadLettered.has(msg)) continue;
        let reason: string | undefined;
        let data: MessageShape<Desc> | undefined;
        try {
          data = options.codec.decode(msg.data);
          reason = options.validate?.(data, msg.subject);
        } catch (error) {
          reason = `undecodable ${options.codec.schema.typeName}: ${(error as Error).message}`;
        }
        if (reason === undefined && data !== undefined) {
          batch.push({ msg, data });
          continue;
        }
        await this.deadLetter(msg, options.durable, reason ?? "invalid message");
        msg.ack();
        deadLettered.add(msg);
      }
      return batch;
    };

    type Ready = { batch: Delivery<MessageShape<Desc>>[]; prepared: Prepared };
    const prepareBatch = async (raw: JsMsg[], pausing = false): Promise<Ready> => {
      const batch = await decodeBatch(raw, pausing);
      const prepared = (
        options.prepare && batch.length > 0 ? await options.prepare(batch) : undefined
      ) as Prepared;
      return { batch, prepared };
    };

    /**
     * Runs one batch until it is done: true, or false if a stop cut its retries short. Never
     * throws. `ahead` is the batch as prepared while the last one ran; retries prepare it again.
     */
    const runBatch = async (raw: JsMsg[], ahead?: Promise<Ready>): Promise<boolean> => {
      let failuresWhileAnswering = 0;
      for (let failures = 1; ; failures++) {
        let error: unknown;
        try {
          const { batch, prepared } = await ((failures === 1 ? ahead : undefined) ?? prepareBatch(raw));
          if (batch.length > 0) await options.handler(batch, prepared);
          for (const { msg } of batch) msg.ack();
          return true;
        } catch (caught) {
          error = caught;
        }
        const live = raw.filter((msg) => !deadLettered.has(msg));
        if (live.length === 0) return true;
        const isTransient = transient(error);
        if (!isBusUnavailable(error) && (!isTransient || failures >= SPLIT_AFTER_FAILURES)) {
          if (live.length > 1) {
            // Halving finds the message at fault in log2(batch) rounds, keeping the stream's order.
            log.warn(
              { err: errorText(error), batch: live.length, transient: isTransient },
              "a batch keeps failing; splitting it to find the message at fault",
            );
            const half = Math.ceil(live.length / 2);
            return (await runBatch(live.slice(0, half))) && (await runBatch(live.slice(half)));
          }
          const [msg] = live as [JsMsg];
          // Whatever the error says, a message is only blamed while the consumer's dependencies
          // answer: an outage can surface as an error no classifier knows. A transient error is
          // blamed on it only once it recurs with them answering: failures during an outage, or
          // the first one on a connection the outage broke, are the outage's.
          const answering = await dependenciesAnswer().catch(() => false);
          if (answering && isTransient) failuresWhileAnswering += 1;
          const blame = !answering
            ? undefined
            : !isTransient
              ? `the handler failed on it: ${errorText(error)}`
              : failuresWhileAnswering >= SPLIT_AFTER_FAILURES
                ? `the handler failed on it ${failuresWhileAnswering} times while its dependencies answered: ${errorText(error)}`
                : undefined;
          if (blame !== undefined) {
            try {
              await this.deadLetter(msg, options.durable, blame);
              msg.ack();
              deadLettered.add(msg);
              return true;
            } catch (deadLetterError) {
              // The bus itself is out of reach: the message stays unacked and is tried again.
              error = deadLetterError;
            }
          }
        }
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures, 10));
        log.error(
          { err: errorText(error), attempt: failures, retryInMs: delay, batch: live.length },
          "batch failed; retrying it without acking",
        );
        if (stopping) return false;
        await sleep(delay * (0.5 + Math.random() / 2));
      }
    };

    // Messages waiting behind a slow or retried batch are this process's, not late: without word
    // the server would send them again after ack_wait, and each copy would be handled again.
    /** The next batch, taken off the queue and being prepared while the running ones finish. */
    let next: { raw: JsMsg[]; ready: Promise<Ready> } | undefined;
    const keepAlive = setInterval(() => {
      for (const batch of running.keys()) for (const msg of batch) msg.working();
      for (const msg of next?.raw ?? []) msg.working();
      for (const msg of queue) msg.working();
    }, ackWaitMs / 3);
    const loop = (async () => {
      let cutShort = false;
      while ((!stopping || queue.length > 0 || next) && !cutShort) {
        if (running.size >= concurrentBatches) {
          if (options.prepare && !next && queue.length > 0) {
            const raw = queue.splice(0, maxBatch);
            // A failure here is the batch's, met again when it runs; it must not go unhandled.
            const ready = prepareBatch(raw, true);
            ready.catch(() => undefined);
            next = { raw, ready };
          }
          // With nothing prepared yet, messages arriving meanwhile are the next batch to prepare.
          const arrival =
            options.prepare && !next
              ? new Promise<void>((resolve) => {
                  wake = resolve;
                })
              : undefined;
          await Promise.race([...running.values(), ...(arrival ? [arrival] : [])]);
          wake = undefined;
          continue;
        }
        if (!next && queue.length === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        const taken = next;
        next = undefined;
        const batch = taken?.raw ?? queue.splice(0, maxBatch);
        const run = runBatch(batch, taken?.ready).then((done) => {
          running.delete(batch);
          // A stop cut its retries short: it stays unacked, and nothing more is taken.
          if (!done) cutShort = true;
          wake?.();
          return done;
        });
        running.set(batch, run);
      }
      await Promise.all(running.values());
    })().finally(() => clearInterval(keepAlive));

    return {
      stop: async () => {
        stopping = true;
        // close() settles only with the server's answer; a stop during an outage must not hang.
        await Promise.race([messages.close(), sleep(CLOSE_WAIT_MS)]);
        wake?.();
        await loop;
      },
    };
  }

  /** The most bytes one message may carry, headers included: the server's max_payload. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Flushes pending publishes and acks, then closes the connection. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }
}
