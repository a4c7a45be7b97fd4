import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import type { Logger } from "@atoll/log";
import { apiVersionOf, type ResourceType } from "./catalog.js";
import { KubeApiError, type KubeClient, readBody, toApiError } from "./client.js";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { uid: string; name: string; namespace?: string; resourceVersion: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type ReflectorEvent =
  | { type: "SYNC_BEGIN"; syncId: string }
  | { type: "SYNC_END"; syncId: string }
  | { type: "ADDED"; syncId: string; object: KubeObject }
  | { type: "MODIFIED"; syncId: string; object: KubeObject }
  | { type: "DELETED"; syncId: string; uid: string; resourceVersion: bigint; object?: KubeObject };

export type ReflectorState = "listing" | "watching" | "backoff";

export interface ReflectorOptions {
  client: KubeClient;
  type: ResourceType;
  /** Watch one namespace only; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  pageSize?: number;
  /** Receives events in order; awaiting it is the backpressure. */
  sink: (event: ReflectorEvent) => Promise<void>;
  logger: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** Seconds a watch stays open before it is renewed (randomised up to twice this). */
  watchTimeoutSeconds?: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

class GoneError extends Error {}

const syncIdTime = (ms: number) => Math.trunc(ms).toString().padStart(15, "0");

/** A full list's id: time-ordered and fixed width, so the indexer orders lists by comparing ids. */
export const newSyncId = (now = Date.now()) => `${syncIdTime(now)}-${randomUUID().slice(0, 8)}`;

/** The smallest sync id of a millisecond: an agent run's epoch, at or before every list it starts. */
export const epochSyncId = (now = Date.now()) => `${syncIdTime(now)}-00000000`;

/** What a sync id looks like; the first group is its time in milliseconds. */
export const SYNC_ID = /^(\d{15})-[0-9a-f]{8}$/;

/**
 * List-then-watch for one resource type, written here rather than taken from client-node's
 * informer, which loses its place on restarts. Memory per object is its uid and resourceVersion.
 */
export class Reflector {
  private known = new Map<string, bigint>();
  private resourceVersion = "";
  private syncId = "";
  private controller = new AbortController();
  private running: Promise<void> | undefined;
  state: ReflectorState = "listing";
  lastError = "";
  lastListAt = 0;

  constructor(private readonly options: ReflectorOptions) {}

  get objectCount(): number {
    return this.known.size;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
  }

  private basePath(): string {
    const { type, namespace } = this.options;
    const root = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
    return namespace && type.namespaced
      ? `${root}/namespaces/${namespace}/${type.resource}`
      : `${root}/${type.resource}`;
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams(extra);
    if (this.options.labelSelector) params.set("labelSelector", this.options.labelSelector);
    if (this.options.fieldSelector) params.set("fieldSelector", this.options.fieldSelector);
    return `${this.basePath()}?${params.toString()}`;
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 800, maxMs: 30_000 };
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          this.state = "listing";
          await this.list(signal);
          needList = false;
        }
        this.state = "watching";
        await this.watch(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GoneError) {
          this.options.logger.info(
            { resource: this.options.type.resource },
            "watch window expired (410); relisting",
          );
          needList = true;
          this.resourceVersion = "";
          continue;
        }
        failures += 1;
        this.state = "backoff";
        this.lastError = (error as Error).message;
        const delay = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 16));
        const jittered = delay / 2 + Math.random() * (delay / 2);
        this.options.logger.warn(
          {
            resource: this.options.type.resource,
            err: (error as Error).message,
            retryInMs: Math.round(jittered),
          },
          "list/watch failed; backing off",
        );
        await sleep(jittered, signal);
      }
    }
  }

  /** Paginated list framed by SYNC_BEGIN/SYNC_END; objects known before but absent now are deleted. */
  private async list(signal: AbortSignal): Promise<void> {
    const syncId = newSyncId();
    // What the last list knew and this one has not seen yet: an object moves from it to known as
    // it is listed, so the two hold each object once between them (a set of the uids seen, kept
    // next to known, cost 15 MB more at 300,000 pods). A list that fails gives it all back.
    const unseen = this.known;
    this.known = new Map();
    try {
      await this.listInto(unseen, syncId, signal);
      for (const [uid, rv] of unseen)
        await this.options.sink({ type: "DELETED", syncId, uid, resourceVersion: rv });
    } catch (error) {
      // Known again until a list completes; a deletion already sent is sent again, harmlessly.
      for (const [uid, rv] of unseen) if (!this.known.has(uid)) this.known.set(uid, rv);
      throw error;
    }
    await this.options.sink({ type: "SYNC_END", syncId });
    this.syncId = syncId;
    this.lastListAt = Date.now();
    this.lastError = "";
  }

  /** The list's pages, each object sent on and moved from unseen to known. */
  private async listInto(unseen: Map<string, bigint>, syncId: string, signal: AbortSignal): Promise<void> {
    const { type, sink } = this.options;
    let continueToken = "";
    let listVersion = "";
    await sink({ type: "SYNC_BEGIN", syncId });
    do {
      const params: Record<string, string> = { limit: String(this.options.pageSize ?? 500) };
      if (continueToken) params.continue = continueToken;
      let page: { metadata: { resourceVersion: string; continue?: string }; items: KubeObject[] };
      try {
        page = await this.options.client.json({ path: this.query(params), signal });
      } catch (error) {
        // An expired continue token: start the list again from the top.
        if (error instanceof KubeApiError && error.status === 410 && continueToken) {
          continueToken = "";
          continue;
        }
        throw error;
      }
      listVersion = page.metadata.resourceVersion;
      for (const item of page.items) {
        item.apiVersion ??= apiVersionOf(type);
        item.kind ??= type.kind;
        unseen.delete(item.metadata.uid);
        this.known.set(item.metadata.uid, BigInt(item.metadata.resourceVersion));
        await sink({ type: "ADDED", syncId, object: item });
      }
      continueToken = page.metadata.continue ?? "";
    } while (continueToken);
    this.resourceVersion = listVersion;
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const response = await this.options.client.stream({
      path: this.query({
        watch: "1",
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: "true",
        timeoutSeconds: String(Math.round(base + Math.random() * base)),
      }),
      signal,
    });
    const status = response.statusCode ?? 0;
    if (status === 410) throw new GoneError();
    if (status !== 200) throw toApiError(status, await readBody(response), this.basePath());
    const lines = createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY });
    const { type, sink } = this.options;
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const event = JSON.parse(line) as {
        type: string;
        object: KubeObject & { code?: number; message?: string };
      };
      const object = event.object;
      switch (event.type) {
        case "ADDED":
        case "MODIFIED": {
          object.apiVersion ??= apiVersionOf(type);
          object.kind ??= type.kind;
          this.known.set(object.metadata.uid, BigInt(object.metadata.resourceVersion));
          this.resourceVersion = object.metadata.resourceVersion;
          await sink({ type: event.type as "ADDED" | "MODIFIED", syncId: this.syncId, object });
          break;
        }
        case "DELETED": {
          object.apiVersion ??= apiVersionOf(type);
          object.kind ??= type.kind;
          this.known.delete(object.metadata.uid);
          this.resourceVersion = object.metadata.resourceVersion;
          await sink({
            type: "DELETED",
            syncId: this.syncId,
            uid: object.metadata.uid,
            resourceVersion: BigInt(object.metadata.resourceVersion),
            object,
          });
          break;
        }
        case "BOOKMARK":
          this.resourceVersion = object.metadata.resourceVersion;
          break;
        case "ERROR":
          if (object.code === 410) throw new GoneError();
          throw new KubeApiError(
            object.code ?? 500,
            "",
            `watch ${this.basePath()}: ${object.message ?? "error event"}`,
          );
      }
    }
  }
}
