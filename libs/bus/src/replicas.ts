import type { Logger } from "@atoll/log";
import type { ClusterInfo } from "@nats-io/jetstream";
import type { Bus } from "./bus.js";

/** One copy of a consumer, as a consumer's info reports it at one moment. */
export interface ReplicaSighting {
  stream: string;
  consumer: string;
  /** The server holding the copy. */
  peer: string;
  current: boolean;
  offline: boolean;
  /** Raft entries the copy is behind its leader. */
  lag: number;
  /** How long ago its leader last heard from the copy. */
  lastSeenMs: number;
}

/** A copy seen behind: the least it has lagged so far, and since when it has not lagged less. */
export interface BehindSince {
  lag: number;
  since: number;
}

const copyKey = (sighting: ReplicaSighting) =>
  `${sighting.stream}\u0000${sighting.consumer}\u0000${sighting.peer}`;

export interface StuckLimits {
  /** How long a copy may stay behind without lagging less. */
  stuckAfterMs: number;
  /**
   * A copy its leader has not heard from for longer is on a server that is down or cut off, which
   * no new leader can mend; a stuck copy's server still answers its leader.
   */
  inContactMs: number;
}

/** A default inContactMs: a consumer's leader hears from each copy at least every second. */
export const IN_CONTACT_MS = 3_000;

/**
 * Which consumers have a copy that has been behind without catching up for `stuckAfterMs`, from
 * one round of sightings and the copies seen behind before it (which this updates). A copy that
 * lags less than it ever did is making progress, however slowly, and its clock starts again; an
 * offline copy, or one out of contact, is on a server that is down; a current copy is forgotten. A
 * consumer found stuck restarts its copies' clocks, so it is named again only after another
 * `stuckAfterMs`.
 */
export function stuckConsumers(
  behind: Map<string, BehindSince>,
  sightings: ReplicaSighting[],
  now: number,
  { stuckAfterMs, inContactMs }: StuckLimits,
): { stream: string; consumer: string }[] {
  const seen = new Set<string>();
  const stuck = new Map<string, { stream: string; consumer: string }>();
  for (const sighting of sightings) {
    if (sighting.current || sighting.offline || sighting.lastSeenMs > inContactMs) continue;
    const key = copyKey(sighting);
    seen.add(key);
    const before = behind.get(key);
    if (!before || sighting.lag < before.lag) {
      behind.set(key, { lag: sighting.lag, since: now });
      continue;
    }
    if (now - before.since >= stuckAfterMs) {
      stuck.set(`${sighting.stream}\u0000${sighting.consumer}`, {
        stream: sighting.stream,
        consumer: sighting.consumer,
      });
      behind.set(key, { lag: sighting.lag, since: now });
    }
  }
  for (const key of behind.keys()) if (!seen.has(key)) behind.delete(key);
  return [...stuck.values()];
}

/** The copies other than the leader of a stream's consumer, from its cluster info. */
export function sightingsOf(
  stream: string,
  consumer: string,
  cluster: ClusterInfo | undefined,
): ReplicaSighting[] {
  return (cluster?.replicas ?? []).map((replica) => ({
    stream,
    consumer,
    peer: replica.name,
    current: replica.current,
    offline: replica.offline ?? false,
    lag: replica.lag ?? 0,
    // JetStream reports it in nanoseconds.
    lastSeenMs: (replica.active ?? 0) / 1e6,
  }));
}

/**
 * When the next look at the copies is due, after one that took `lastPassMs`. Listing consumers
 * asks JetStream's leader about every one of them, tens of thousands on a large fleet: the watch
 * keeps to a tenth of that leader's time, however many there are.
 */
export function nextPassInMs(intervalMs: number, lastPassMs: number): number {
  return Math.max(intervalMs, 10 * lastPassMs);
}

export interface ReplicaWatchOptions extends Partial<StuckLimits> {
  /** How long a copy may stay behind without catching up before its consumer's leader steps down. */
  stuckAfterMs: number;
  /** How often the copies are looked at, at most (see nextPassInMs). */
  intervalMs: number;
  logger: Logger;
}

/**
 * Mends consumer copies that NATS 2.9 leaves behind after a server restarts. A consumer's leader
 * can only catch a copy up from its log or from a snapshot, and while it is catching any copy up it
 * takes no snapshot; when the copy asks for an entry the log no longer holds, the leader sends the
 * wrong one, the copy asks again, and so on: the copy stays behind for minutes (more than one in
 * three of our three-server runs left one copy so, for over a minute in some). A server lost in
 * that window takes the consumer's quorum with it.
 * A new leader snapshots as soon as it is elected and sends that snapshot, so the watch asks the
 * leader of a consumer with a stuck copy to step down: its deliveries pause for an election, a
 * fraction of a second, and no message is lost (the copies agree on what was delivered and acked).
 * Streams are left alone: a stream's leader stepping down stalls every publish to it, leases
 * included.
 */
export class ReplicaWatch {
  private readonly behind = new Map<string, BehindSince>();
  private timer: NodeJS.Timeout | undefined;
  private passing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly options: ReplicaWatchOptions,
  ) {}

  start(): void {
    const schedule = (inMs: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        const startedAt = Date.now();
        this.passing = this.pass()
          .then(() => undefined)
          .catch((error: Error) =>
            this.options.logger.warn(
              { err: error.message },
              "looking at consumer copies failed; trying again",
            ),
          )
          .finally(() => {
            this.passing = undefined;
            schedule(nextPassInMs(this.options.intervalMs, Date.now() - startedAt));
          });
      }, inMs);
      this.timer.unref();
    };
    schedule(this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.passing;
  }

  /** Looks at every consumer of the hub's streams once; returns the consumers whose leader stepped down. */
  async pass(now = Date.now()): Promise<{ stream: string; consumer: string }[]> {
    const sightings: ReplicaSighting[] = [];
    // The hub's durable consumers are all on its streams; its buckets have none.
    for (const stream of Object.values(this.bus.names.streams))
      for await (const consumer of this.bus.jsm.consumers.list(stream))
        sightings.push(...sightingsOf(stream, consumer.name, consumer.cluster));
    const stuck = stuckConsumers(this.behind, sightings, now, {
      stuckAfterMs: this.options.stuckAfterMs,
      inContactMs: this.options.inContactMs ?? IN_CONTACT_MS,
    });
    for (const { stream, consumer } of stuck) {
      const lagging = sightings.filter(
        (sighting) => sighting.stream === stream && sighting.consumer === consumer && !sighting.current,
      );
      this.options.logger.warn(
        { stream, consumer, behind: lagging.map(({ peer, lag }) => ({ peer, lag })) },
        "a consumer's copy has not caught up; asking its leader to step down so a new one sends a snapshot",
      );
      await this.stepDown(stream, consumer);
    }
    return stuck;
  }

  private async stepDown(stream: string, consumer: string): Promise<void> {
    const reply = await this.bus.nc.request(
      `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`,
      undefined,
      {
        timeout: 5_000,
      },
    );
    const answer = reply.json<{ success?: boolean; error?: { description?: string } }>();
    if (!answer.success)
      throw new Error(
        `the leader of ${stream} > ${consumer} did not step down: ${answer.error?.description}`,
      );
  }
}
