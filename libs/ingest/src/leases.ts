import { randomUUID } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type Bus, isLeaseTaken, type KV, retryWhileUnreachable } from "@atoll/bus";
import type { Logger } from "@atoll/log";

/**
 * How many leases a pass takes at once, each starting a consumer. One at a time, a pass over a
 * thousand clusters outlasted the lease.
 */
const LEASES_AT_ONCE = 64;
/**
 * How many leases a renewal writes at once. A renewal is one small KV write, and each round of
 * them waits for a turn of the event loop: with the indexer's loop held up to a second at a time
 * at 5,000 clusters, 79 rounds of 64 outlasted the lease.
 */
const RENEWALS_AT_ONCE = 1_000;

/** Runs step over items, at most `width` at a time, in order of items. */
async function inChunks<T>(items: T[], width: number, step: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(step));
}

export interface LeaseOptions {
  bus: Bus;
  logger: Logger;
  /** A lease not renewed within this time lapses and another indexer may take the cluster. */
  ttlMs?: number;
  renewMs?: number;
  /** Called when this process gains or loses a cluster; gains are awaited before counting. */
  onAcquire: (cluster: string) => Promise<void>;
  onRelease: (cluster: string) => Promise<void>;
  /** Clusters whose heartbeats the process has seen (and not seen deleted) since it started. */
  heardFrom: () => Iterable<string>;
}

/**
 * Shares clusters among indexer processes so that each cluster has exactly one reader, which is
 * what keeps its events in order. Leases live in a KV bucket whose TTL expires a dead owner's
 * keys; each live process (known from its own member key) takes a fair share and gives back any
 * surplus, so ownership rebalances when indexers come and go.
 *
 * Renewing runs on a loop of its own, apart from the pass that counts members, lists clusters and
 * takes or gives back leases. On a loaded or recovering NATS cluster that pass, with the consumers
 * it starts, can take longer than a lease, and renewals waiting behind it let every lease lapse, so
 * the indexer stopped and restarted each cluster's reader over and over. The pass creates no
 * consumer of its own: members are counted from their stream's subjects and clusters come from the
 * process's own heartbeat watch.
 */
export class ClusterLeases {
  readonly id = randomUUID();
  private leases: KV | undefined;
  private members: KV | undefined;
  private readonly owned = new Map<string, number>();
  /** Consumers of lost clusters still finishing their batch. */
  private readonly stopping = new Map<string, Promise<void>>();
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<void> = Promise.resolve();
  /** A pass asked for and not started yet: every request until it starts is answered by it. */
  private queued: Promise<void> | undefined;
  /** The renewal in progress, if any: a renewal never overlaps the last one. */
  private renewing: Promise<void> | undefined;
  private readonly ttlMs: number;
  private readonly loopDelay = monitorEventLoopDelay();

  constructor(private readonly options: LeaseOptions) {
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  async start(): Promise<void> {
    const { bus } = this.options;
    const bucket = (name: string) =>
      retryWhileUnreachable(
        `opening the ${name} bucket`,
        () => bus.bucket(name, { ttlMs: this.ttlMs }),
        this.options.logger,
      );
    this.loopDelay.enable();
    this.leases = await bucket(bus.names.leasesBucket);
    this.members = await bucket(bus.names.membersBucket);
    await this.renew();
    await this.reconcile();
    const everyMs = this.options.renewMs ?? Math.floor(this.ttlMs / 3);
    this.timers = [
      setInterval(() => void this.renew(), everyMs),
      setInterval(() => void this.reconcile(), everyMs),
    ];
  }

  /** Runs one pass now (e.g. when a new cluster shows up), after any pass in progress. */
  reconcile(): Promise<void> {
    // A fleet's worth of first heartbeats asks for a pass each; one pass answers them all.
    if (this.queued) return this.queued;
    const next = this.running
      .then(() => {
        this.queued = undefined;
        return this.pass();
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ err: (error as Error).message }, "lease pass failed; retrying");
      });
    this.queued = next;
    this.running = next;
    return next;
  }

  /** Clusters with events in the stream, or heard from: a heartbeat comes before the first batch. */
  private async knownClusters(): Promise<string[]> {
    const { bus } = this.options;
    const info = await bus.jsm.streams.info(bus.names.streams.resources, {
      subjects_filter: bus.names.all("res"),
    });
    const clusters = new Set(
      Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(subject.lastIndexOf(".") + 1)),
    );
    for (const cluster of this.options.heardFrom()) clusters.add(cluster);
    return [...clusters];
  }

  /**
   * How many indexers hold a member key: the member bucket's subjects, in one answer from its
   * stream's leader. Listing its keys instead took a consumer per pass, and the listing yields a
   * key once per write that lands while it runs: with members renewing meanwhile, a loaded run
   * counted 56 members where there was one, and took a third of its share.
   */
  private async liveMembers(): Promise<number> {
    const { bus } = this.options;
    const bucket = bus.names.membersBucket;
    const info = await bus.jsm.streams.info(bus.names.bucketStream(bucket), {
      subjects_filter: bus.names.bucketSubject(bucket, ">"),
    });
    return Object.keys(info.state.subjects ?? {}).length;
  }

  /** Keeps this process a member and renews the leases it holds; skipped while the last one runs. */
  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce()
      .catch((error: unknown) => {
        this.options.logger.warn({ err: (error as Error).message }, "renewing leases failed; retrying");
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const leases = this.leases!;
    const started = Date.now();
    // Alongside the leases, not before them: a member key that cannot be written delays no renewal.
    const membership = this.members!.put(this.id, new TextEncoder().encode(String(Date.now()))).then(
      () => undefined,
      (error: unknown) => error,
    );
    // Only a revision conflict or a vanished key means someone else holds it now; an unreachable
    // server is not a lost lease, so the consumer keeps going and we retry.
    await inChunks([...this.owned], RENEWALS_AT_ONCE, async ([cluster, revision]) => {
      // A pass may give the cluster up while its renewal is on the wire: then the answer is stale.
      const stillHeld = () => this.owned.get(cluster) === revision;
      try {
        const renewed = await leases.update(cluster, new TextEncoder().encode(this.id), revision);
        if (stillHeld()) this.owned.set(cluster, renewed);
      } catch (error) {
        let adopted: number | undefined;
        try {
          if (!isLeaseTaken(error)) throw error;
          adopted = await this.stillOurs(cluster);
        } catch (unanswered) {
          this.options.logger.warn(
            { cluster, err: (unanswered as Error).message },
            "could not renew a cluster lease; retrying",
          );
          return;
        }
        if (!stillHeld()) return;
        if (adopted !== undefined) {
          this.owned.set(cluster, adopted);
          return;
        }
        this.owned.delete(cluster);
        this.options.logger.warn({ cluster }, "lost a cluster lease; stopping its consumer");
        this.releaseLost(cluster);
      }
    });
    const ms = Date.now() - started;
    // Leases renewed later than their lifetime lapse: an operator hears of it before that happens,
    // with whether this process's own event loop (rather than NATS) was slow to answer.
    if (ms > this.ttlMs / 3)
      this.options.logger.warn(
        {
          leases: this.owned.size,
          ms,
          ttlMs: this.ttlMs,
          eventLoopDelayP99Ms: Math.round(this.loopDelay.percentile(99) / 1e6),
        },
        "renewing the cluster leases took over a third of their lifetime",
      );
    this.loopDelay.reset();
    const unwritten = await membership;
    if (unwritten) throw unwritten;
  }

  private async pass(): Promise<void> {
    const leases = this.leases!;
    const live = await this.liveMembers();
    const clusters = (await this.knownClusters()).sort();
    const share = Math.ceil(clusters.length / Math.max(1, live));

    // Give back surplus so a newcomer can take its share, once no renewal can write the key again.
    if (this.owned.size > share) await this.renewing;
    while (this.owned.size > share) {
      const cluster = [...this.owned.keys()].sort().pop()!;
      this.owned.delete(cluster);
      await this.options.onRelease(cluster);
      await leases.delete(cluster);
      this.options.logger.info({ cluster, share }, "released a cluster to rebalance");
    }
    // Take free clusters up to our share; create() is atomic, so only one process wins each.
    const free = clusters.filter((cluster) => !this.owned.has(cluster) && !this.stopping.has(cluster));
    while (free.length > 0 && this.owned.size < share) {
      const attempt = free.splice(0, Math.min(LEASES_AT_ONCE, share - this.owned.size));
      await Promise.all(
        attempt.map(async (cluster) => {
          let revision: number;
          try {
            revision =
              (await this.stillOurs(cluster)) ??
              (await leases.create(cluster, new TextEncoder().encode(this.id)));
          } catch {
            return; // Held by another live indexer.
          }
          await this.options.onAcquire(cluster);
          const held = await this.confirm(cluster, revision);
          if (held === undefined) {
            this.options.logger.warn(
              { cluster },
              "a cluster lease lapsed while its consumer started; stopping it",
            );
            this.releaseLost(cluster);
            return;
          }
          this.owned.set(cluster, held);
          this.options.logger.info({ cluster, share, indexers: live }, "took a cluster lease");
        }),
      );
    }
  }

  /**
   * Renews a lease taken before its consumer started, which on a slow bus can take longer than the
   * lease: if the key lapsed meanwhile and nobody took it, it is taken again. The revision held,
   * or undefined when another process holds the cluster now.
   */
  private async confirm(cluster: string, revision: number): Promise<number | undefined> {
    const leases = this.leases!;
    const value = new TextEncoder().encode(this.id);
    try {
      return await leases.update(cluster, value, revision);
    } catch (error) {
      // Unanswered is not lost: the renewals go on from the revision we know.
      if (!isLeaseTaken(error)) return revision;
    }
    const ours = await this.stillOurs(cluster).catch(() => revision);
    if (ours !== undefined) return ours;
    return leases
      .create(cluster, value)
      .catch((error: unknown) => (isLeaseTaken(error) ? undefined : revision));
  }

  /**
   * The revision of a lease key that still names this process. A NATS server that restarts
   * without having synced its last writes to disk comes back with an older revision of our own
   * lease; that is no reason to stop reading, nor to wait for the key to expire. Throws when the
   * bucket does not answer: that says nothing about who holds the lease.
   */
  private async stillOurs(cluster: string): Promise<number | undefined> {
    const entry = await this.leases!.get(cluster);
    return entry?.operation === "PUT" && entry.string() === this.id ? entry.revision : undefined;
  }

  /**
   * Starts stopping a lost cluster's consumer, and does not wait for it: the consumer stops once
   * its batch is written, which can take seconds, and a renewal waiting for it left every lease
   * after it to lapse. At 5,000 clusters each renewal lost the next 64 leases, and restarting
   * their consumers kept the next renewal as slow, for good. The cluster is not taken again until
   * the consumer has stopped.
   */
  private releaseLost(cluster: string): void {
    const stopped = this.options
      .onRelease(cluster)
      .catch((error: unknown) =>
        this.options.logger.warn({ cluster, err: (error as Error).message }, "stopping a consumer failed"),
      )
      .finally(() => this.stopping.delete(cluster));
    this.stopping.set(cluster, stopped);
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.loopDelay.disable();
    await this.running;
    await this.renewing;
    await Promise.all(this.stopping.values());
    for (const cluster of [...this.owned.keys()]) {
      this.owned.delete(cluster);
      await this.options.onRelease(cluster);
      await this.leases?.delete(cluster).catch(() => undefined);
    }
    // Purged, not deleted: a delete leaves a marker on the subject, counted as a member until it expires.
    const { bus } = this.options;
    const bucket = bus.names.membersBucket;
    await bus.jsm.streams
      .purge(bus.names.bucketStream(bucket), { filter: bus.names.bucketSubject(bucket, this.id) })
      .catch(() => undefined);
  }
}
