import { randomUUID } from "node:crypto";
import type { Logger } from "@atoll/log";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { type Bus, isUnreachable, retryWhileUnreachable } from "./bus.js";

/**
 * True when a KV write that named the key's last revision found another one: the key moved on
 * (another owner took it, or it expired), or a create found it taken.
 */
export function isLeaseTaken(error: unknown): boolean {
  if (error instanceof JetStreamApiError) {
    return (
      error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    );
  }
  return /wrong last sequence|key exists/i.test(String((error as Error)?.message));
}

export interface LeadershipOptions {
  /** What is led, as "scheduler": one leader per role and bus prefix. */
  role: string;
  /** A leader that has not renewed its lease for this long is replaced. */
  leaseMs: number;
  logger: Logger;
}

/**
 * One leader among the processes of a role, through a key in a KV bucket whose TTL is the lease:
 * the leader rewrites the key every third of the lease, naming the revision it last wrote, and
 * the others try to create it, which succeeds only once it has expired or been given up. A leader
 * that cannot renew for two thirds of the lease counts itself lost before the key can expire, so
 * two leaders never act at once; a process that loses its lease is expected to stop acting (the
 * scheduler exits, and its supervisor starts it again as a standby).
 */
export class Leadership {
  readonly id = randomUUID();
  /** Settles when leadership is lost, with the reason; never when it is given up by resign(). */
  readonly lost: Promise<string>;
  private loseWith: (reason: string) => void = () => undefined;
  private kv: KV | undefined;
  private revision = 0;
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly options: LeadershipOptions,
  ) {
    this.lost = new Promise((resolve) => {
      this.loseWith = resolve;
    });
  }

  /** Resolves once this process leads, waiting for as long as another one does. */
  async lead(): Promise<void> {
    const { role, leaseMs, logger } = this.options;
    const bucket = this.bus.names.leaderBucket(role);
    const kv = await retryWhileUnreachable(
      `opening the ${bucket} bucket`,
      () => this.bus.bucket(bucket, { ttlMs: leaseMs }),
      logger,
    );
    this.kv = kv;
    let waiting = false;
    while (!this.stopped) {
      const attemptAt = Date.now();
      try {
        this.revision = await kv.create(role, new TextEncoder().encode(this.id));
        this.renewedAt = attemptAt;
        break;
      } catch (error) {
        if (!isLeaseTaken(error) && !isUnreachable(error)) throw error;
        if (!waiting) logger.info({ role }, "another process leads; standing by until its lease lapses");
        waiting = true;
      }
      await new Promise((resolve) => setTimeout(resolve, leaseMs / 3));
    }
    if (this.stopped) throw new Error(`stopped before leading as ${role}`);
    logger.info({ role, leaseMs }, "leading");
    this.timer = setInterval(() => void this.renew(), leaseMs / 3);
  }

  private async renew(): Promise<void> {
    const { role, leaseMs, logger } = this.options;
    const attemptAt = Date.now();
    try {
      this.revision = await this.kv!.update(role, new TextEncoder().encode(this.id), this.revision);
      this.renewedAt = attemptAt;
    } catch (error) {
      if (this.stopped) return;
      if (isLeaseTaken(error)) return this.lose("another process holds the lease");
      if (Date.now() - this.renewedAt >= (leaseMs * 2) / 3)
        return this.lose(`the lease could not be renewed for ${Date.now() - this.renewedAt} ms`);
      logger.warn({ role, err: (error as Error).message }, "could not renew the lease; retrying");
    }
  }

  private lose(reason: string): void {
    clearInterval(this.timer);
    this.stopped = true;
    this.loseWith(reason);
  }

  /** Stops leading (or waiting to) and gives the lease up, so a standby takes over at once. */
  async resign(): Promise<void> {
    const leading = this.timer !== undefined && !this.stopped;
    this.stopped = true;
    clearInterval(this.timer);
    if (leading)
      await this.kv?.delete(this.options.role, { previousSeq: this.revision }).catch(() => undefined);
  }
}

/** The longest wait between tries to lead after starting the work failed. */
const START_RETRY_MAX_MS = 10_000;

/** What a role runs while it leads. */
export interface LeaderWork {
  stop(): Promise<void>;
}

/**
 * Runs `start`'s work only while this process leads the role: waits to lead, starts it, and when
 * the lease is lost (NATS away for most of a lease, say) stops it at once and stands by to lead
 * again, so a process needs no supervisor to come back. `stop()` ends the work and resigns.
 */
export function whileLeading(
  bus: Bus,
  options: LeadershipOptions,
  start: () => Promise<LeaderWork>,
): { leading(): boolean; stop(): Promise<void> } {
  let stopping = false;
  let current: Leadership | undefined;
  let work: LeaderWork | undefined;
  let resolveStopped: (value: undefined) => void = () => undefined;
  const stopped = new Promise<undefined>((resolve) => {
    resolveStopped = resolve;
  });
  const loop = (async () => {
    for (let failures = 0; !stopping; ) {
      current = new Leadership(bus, options);
      try {
        await current.lead();
        work = await start();
        failures = 0;
      } catch (error) {
        if (stopping) break;
        // Were the loop to end here, the process would stay up, healthy to its supervisor and
        // leading nothing ever again. Give the lease up, so a standby can lead meanwhile, and retry.
        failures += 1;
        const retryInMs = Math.min(
          START_RETRY_MAX_MS,
          (options.leaseMs / 3) * 2 ** Math.min(failures - 1, 8),
        );
        options.logger.error(
          { role: options.role, err: (error as Error).message, attempt: failures, retryInMs },
          "could not start leading; gave the lease up, trying again",
        );
        await current.resign();
        await Promise.race([new Promise((resolve) => setTimeout(resolve, retryInMs)), stopped]);
        continue;
      }
      const reason = await Promise.race([current.lost, stopped]);
      const running = work;
      work = undefined;
      await running
        .stop()
        .catch((error: unknown) =>
          options.logger.error(
            { role: options.role, err: (error as Error).message },
            "stopping the work failed",
          ),
        );
      if (reason !== undefined)
        options.logger.error(
          { role: options.role, reason },
          "lost the lease; stopped, standing by to lead again",
        );
    }
  })();
  return {
    leading: () => work !== undefined,
    stop: async () => {
      stopping = true;
      resolveStopped(undefined);
      // Standing by: stop waiting. Leading: the work stops first, then the lease is given up.
      if (!work) await current?.resign();
      await loop.catch(() => undefined);
      await current?.resign();
    },
  };
}
