import { isBacklogFull } from "@atoll/bus";
import {
  create,
  type ResourceEvent,
  type ResourceEventBatch,
  ResourceEventBatchSchema,
} from "@atoll/contracts";
import type { Logger } from "@atoll/log";

export interface BatcherOptions {
  cluster: string;
  agentId: string;
  /** Publishes one batch durably; msgId is stable across retries of the same batch. */
  publish: (batch: ResourceEventBatch, msgId: string) => Promise<void>;
  logger: Logger;
  maxEvents?: number;
  maxBytes?: number;
  lingerMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const EVENT_OVERHEAD_BYTES = 160;
/** A batch's default size bound, well inside NATS's default 1 MiB message. */
export const DEFAULT_BATCH_BYTES = 512 * 1024;

/**
 * Groups events into batches bounded in count, size and linger time. Batches go out one at a
 * time, in order; a failed publish is retried with the same msgId until it lands, and add()
 * waits while a full batch is in flight, which is how backpressure reaches the reflectors.
 */
export class ResourceBatcher {
  private pending: ResourceEvent[] = [];
  private pendingBytes = 0;
  private sequence = 0n;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  published = 0;

  constructor(private readonly options: BatcherOptions) {}

  async add(event: ResourceEvent): Promise<void> {
    const bytes = event.object.length + EVENT_OVERHEAD_BYTES;
    const maxBytes = this.options.maxBytes ?? DEFAULT_BATCH_BYTES;
    // A batch never grows past the bound by its last event, so it always fits a bus message.
    if (this.pending.length > 0 && this.pendingBytes + bytes > maxBytes) await this.flush();
    this.pending.push(event);
    this.pendingBytes += bytes;
    if (this.pending.length >= (this.options.maxEvents ?? 500) || this.pendingBytes >= maxBytes) {
      await this.flush();
    } else {
      this.timer ??= setTimeout(() => void this.flush(), this.options.lingerMs ?? 20);
    }
  }

  /** Sends whatever is pending; resolves when it (and everything before it) is published. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (events.length > 0) this.chain = this.chain.then(() => this.publish(events));
    return this.chain;
  }

  /** Flushes, then refuses further retries so shutdown cannot hang on an unreachable bus. */
  async close(): Promise<void> {
    await this.flush();
    this.stopped = true;
  }

  private async publish(events: ResourceEvent[]): Promise<void> {
    this.sequence += 1n;
    const batch = create(ResourceEventBatchSchema, {
      cluster: this.options.cluster,
      agentId: this.options.agentId,
      sequence: this.sequence,
      events,
      sentAtMs: BigInt(Date.now()),
    });
    const msgId = `${this.options.cluster}:${this.options.agentId}:${this.sequence}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.publish(batch, msgId);
        this.published += events.length;
        return;
      } catch (error) {
        if (this.stopped) throw error;
        const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7));
        this.options.logger.warn(
          { err: (error as Error).message, msgId, attempt, retryInMs: delay },
          isBacklogFull(error)
            ? "the hub holds as many of this cluster's batches as it takes until it indexes some; retrying"
            : "publishing a batch failed; retrying",
        );
        await sleep(delay * (0.5 + Math.random() / 2));
      }
    }
  }
}
