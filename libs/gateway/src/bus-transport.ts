import { randomUUID } from "node:crypto";
import type { Duplex, Readable } from "node:stream";
import type { Bus } from "@atoll/bus";
import {
  codecFor,
  create,
  type MessageInitShape,
  ProxyControlSchema,
  ProxyRequestSchema,
  type ProxyResponse,
  ProxyResponseSchema,
} from "@atoll/contracts";
import {
  type KubeClient,
  RequestPathError,
  type RequestTarget,
  readRequestTarget,
  statusObject,
  UPGRADE_SUBRESOURCES,
} from "@atoll/kube";
import type { Logger } from "@atoll/log";
import type { Subscription } from "@nats-io/transport-node";
import {
  type ClusterIdentity,
  type HeaderList,
  impersonationHeaders,
  requestHeadersToForward,
  responseHeadersToForward,
  toOutgoing,
  upgradeHead,
} from "./headers.js";

const requestCodec = codecFor(ProxyRequestSchema);
const responseCodec = codecFor(ProxyResponseSchema);
const controlCodec = codecFor(ProxyControlSchema);

/** How a running reply over the bus is paced and watched; both ends use the same figures. */
export interface StreamTuning {
  /** Chunks the agent may send ahead of what the caller has consumed. */
  window: number;
  /** Largest body piece in one message, well under NATS's 1 MiB default max_payload. */
  chunkBytes: number;
  /** How often each end says it is still there while nothing else flows. */
  keepaliveMs: number;
  /** Silence after which an end gives the other up. */
  idleTimeoutMs: number;
}

/** Far above the hub's own request limit (3 MiB by default): only a misbehaving sender reaches it. */
const MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;

export const DEFAULT_TUNING: StreamTuning = {
  window: 32,
  chunkBytes: 64 * 1024,
  keepaliveMs: 10_000,
  idleTimeoutMs: 30_000,
};

/** Whether a signal fired because a deadline among its sources ran out. */
export const firedByTimeout = (signal: AbortSignal) =>
  signal.aborted && (signal.reason as Error | undefined)?.name === "TimeoutError";

/**
 * A signal that aborts with a TimeoutError once ms pass; clear() when the work ends first.
 * AbortSignal.timeout cannot stand in when the signal feeds AbortSignal.any: Node holds it only
 * weakly, a garbage collection can take it before it fires, and the combined signal then never
 * aborts (nodejs/node#57736), which left slow requests hanging instead of timing out.
 */
export function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")),
    ms,
  );
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** What a caller reads when a cluster is too slow, whichever end noticed first. */
export function timeoutMessage(cluster: string, timeoutMs: number): string {
  return `cluster "${cluster}" did not answer within ${Math.round(timeoutMs / 1000)} s; its API server may be slow or the request too large — narrow it with a label selector or limit`;
}

/** One request for an agent to perform against its own API server. */
export interface ProxyCall {
  method: string;
  /** Path and query string, relative to the API server root. */
  path: string;
  headers: HeaderList;
  body: Uint8Array;
  /** Whom to impersonate; undefined sends the request as the agent itself. */
  identity?: ClusterIdentity;
  /** Ends a reply that takes longer; 0 for watches and followed logs. */
  timeoutMs: number;
  /** exec, attach or port-forward: ask the agent to upgrade the connection. */
  upgrade?: boolean;
}

/** The caller's half of an upgraded connection, carried to the agent in credited pieces. */
export interface UpstreamWriter {
  /** Resolves once the agent may take more; rejects if the connection has ended. */
  write(chunk: Uint8Array): Promise<void>;
  /** The caller will send nothing more. */
  end(): void;
}

export interface ProxyReply {
  status: number;
  headers: HeaderList;
  /** The body in order (after a 101, the cluster's bytes); it throws if the agent goes silent or a chunk goes missing. */
  body: AsyncIterable<Uint8Array>;
  /** After a 101 to an upgrade: the way back to the cluster. */
  upstream?: UpstreamWriter;
  /** Tells the agent to stop: the caller hung up. */
  cancel(): void;
}

/** The cluster cannot be reached through its agent; the gateway answers 503 with the reason. */
export class AgentUnavailableError extends Error {
  readonly code = "AGENT_UNAVAILABLE";
}

/** The agent answered but the reply broke off or never came in time. */
export class ProxyReplyError extends Error {
  readonly code = "PROXY_REPLY_FAILED";
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** Replies as they arrive, handed to one reader; at most a window of them wait here. */
class ReplyQueue {
  private readonly items: ProxyResponse[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  push(item: ProxyResponse): void {
    this.items.push(item);
    this.wake();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** The next reply, or the failure; gives up after idleMs without either. */
  async next(idleMs: number, onIdle: () => Error): Promise<ProxyResponse> {
    for (;;) {
      const item = this.items.shift();
      if (item) return item;
      if (this.failure) throw this.failure;
      let timer: NodeJS.Timeout | undefined;
      const idle = await new Promise<boolean>((resolve) => {
        this.waiter = () => resolve(false);
        timer = setTimeout(() => resolve(true), idleMs);
      });
      clearTimeout(timer);
      if (idle) {
        this.waiter = undefined;
        throw onIdle();
      }
    }
  }
}

/**
 * The hub's end of the gateway to pull-mode clusters: the request goes to the cluster's agent on
 * atoll.v1.proxy.<cluster>, which streams the reply back on the cluster's reply subject. The hub
 * grants credit as the caller consumes, so a slow caller slows the agent and, through TCP, the
 * member API server, instead of filling memory.
 */
export class BusProxyClient {
  private readonly tuning: StreamTuning;

  constructor(
    private readonly bus: Bus,
    private readonly options: { acceptTimeoutMs?: number; tuning?: Partial<StreamTuning> } = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
  }

  /** The largest request body that travels inside the request; larger ones follow in chunks. */
  get maxInlineBodyBytes(): number {
    return (this.bus.nc.info?.max_payload ?? 1024 * 1024) - 16 * 1024;
  }

  async call(cluster: string, call: ProxyCall): Promise<ProxyReply> {
    const { nc, names } = this.bus;
    const requestId = randomUUID().replaceAll("-", "");
    const replySubject = names.proxyReply(cluster, requestId);
    const controlSubject = names.proxyControl(cluster);
    const queue = new ReplyQueue();
    let expected = 0n;
    const subscription: Subscription = nc.subscribe(replySubject, {
      callback: (error, message) => {
        if (error) return queue.fail(new ProxyReplyError(`the reply subscription failed: ${error.message}`));
        let reply: ProxyResponse;
        try {
          reply = responseCodec.decode(message.data);
        } catch {
          return queue.fail(
            new ProxyReplyError(`the agent of cluster "${cluster}" sent an undecodable chunk`),
          );
        }
        if (reply.chunkIndex !== expected)
          return queue.fail(
            new ProxyReplyError(
              `chunk ${expected} of the reply from cluster "${cluster}" was lost; the caller's copy is incomplete`,
            ),
          );
        expected++;
        // Credit for the caller's bytes is taken at once, not in turn behind the cluster's, so the
        // two directions of an upgraded connection never wait on each other.
        if (reply.credit > 0) grantSendCredit(reply.credit);
        queue.push(reply);
      },
    });
    let open = true;
    let sendCredit = this.tuning.window;
    let creditWaiter: (() => void) | undefined;
    const grantSendCredit = (credit: number) => {
      sendCredit += credit;
      const waiter = creditWaiter;
      creditWaiter = undefined;
      waiter?.();
    };
    const control = (credit: number, cancel = false) => {
      if ((!open && !cancel) || nc.isClosed()) return;
      nc.publish(
        controlSubject,
        controlCodec.encode(create(ProxyControlSchema, { requestId, credit, cancel })),
      );
    };
    const keepalive = setInterval(() => control(0), this.tuning.keepaliveMs);
    const close = (cancel: boolean) => {
      if (!open) return;
      if (cancel) control(0, true);
      open = false;
      clearInterval(keepalive);
      subscription.unsubscribe();
      grantSendCredit(0);
      // Nothing more will arrive; a reader still waiting hears so now, not after the idle timeout.
      queue.fail(new ProxyReplyError(`the reply from cluster "${cluster}" was closed`));
    };

    const acceptMs = this.options.acceptTimeoutMs ?? 5000;
    const inline = call.body.length <= this.maxInlineBodyBytes;
    const pieces: Uint8Array[] = [];
    if (!inline)
      for (let at = 0; at < call.body.length; at += this.tuning.chunkBytes)
        pieces.push(call.body.subarray(at, at + this.tuning.chunkBytes));
    try {
      await nc.request(
        names.proxy(cluster),
        requestCodec.encode(
          create(ProxyRequestSchema, {
            requestId,
            cluster,
            method: call.method,
            path: call.path,
            headers: call.headers,
            body: inline ? call.body : new Uint8Array(),
            bodyChunks: pieces.length,
            impersonateUser: call.identity?.user ?? "",
            impersonateGroups: call.identity?.groups ?? [],
            replySubject,
            timeoutMs: call.timeoutMs,
            initialCredit: this.tuning.window,
            upgrade: call.upgrade ?? false,
          }),
        ),
        { timeout: acceptMs },
      );
    } catch (error) {
      close(false);
      const text = String((error as Error).message ?? error);
      throw new AgentUnavailableError(
        /503|no responders/i.test(text) || (error as { code?: string }).code === "503"
          ? `no agent of cluster "${cluster}" is connected to the bus; check that its agent runs and reaches NATS (GET /api/v1/clusters shows its last heartbeat)`
          : `the agent of cluster "${cluster}" did not take the request within ${acceptMs / 1000} s; it may be overloaded or cut off from NATS`,
      );
    }

    // A large body follows the accepted request, in order, on the cluster's control subject.
    for (const bodyChunk of pieces)
      nc.publish(controlSubject, controlCodec.encode(create(ProxyControlSchema, { requestId, bodyChunk })));

    const firstWait = call.timeoutMs > 0 ? call.timeoutMs : this.tuning.idleTimeoutMs;
    // A bounded request must have its head by then; an unbounded one while the agent keeps in touch.
    const headDueAt = call.timeoutMs > 0 ? Date.now() + call.timeoutMs : undefined;
    let first: ProxyResponse;
    try {
      // While the API server is slow to answer, the agent's keepalives come first; they carry no status.
      do
        first = await queue.next(
          headDueAt === undefined ? firstWait : Math.max(0, headDueAt - Date.now()),
          () => new ProxyReplyError(timeoutMessage(cluster, firstWait), true),
        );
      while (first.status === 0 && !first.final);
    } catch (error) {
      close(true);
      throw error;
    }
    if (first.error) {
      close(false);
      throw new AgentUnavailableError(
        `the agent of cluster "${cluster}" could not perform the request: ${first.error}`,
      );
    }

    const { window, idleTimeoutMs } = this.tuning;
    const half = Math.max(1, Math.floor(window / 2));
    async function* body(): AsyncGenerator<Uint8Array> {
      let consumed = 0;
      let reply = first;
      try {
        for (;;) {
          if (reply.body.length > 0) {
            yield reply.body;
            // Credit returns only once the caller has taken the chunk: that is the backpressure.
            if (++consumed >= half) {
              control(consumed);
              consumed = 0;
            }
          }
          if (reply.final) {
            if (reply.error)
              throw new ProxyReplyError(`the reply from cluster "${cluster}" broke off: ${reply.error}`);
            return;
          }
          reply = await queue.next(
            idleTimeoutMs,
            () =>
              new ProxyReplyError(
                `the agent of cluster "${cluster}" went silent for ${idleTimeoutMs / 1000} s; the reply is cut off`,
              ),
          );
        }
      } finally {
        close(!reply.final);
      }
    }
    const { chunkBytes } = this.tuning;
    let streamIndex = 0n;
    const upstream: UpstreamWriter = {
      async write(chunk) {
        for (let at = 0; at < chunk.length; at += chunkBytes) {
          while (sendCredit <= 0 && open) await new Promise<void>((resolve) => (creditWaiter = resolve));
          if (!open) throw new ProxyReplyError(`the connection to cluster "${cluster}" has ended`);
          sendCredit--;
          const streamData = chunk.subarray(at, at + chunkBytes);
          nc.publish(
            controlSubject,
            controlCodec.encode(
              create(ProxyControlSchema, { requestId, streamData, streamIndex: streamIndex++ }),
            ),
          );
        }
      },
      end() {
        if (open)
          nc.publish(
            controlSubject,
            controlCodec.encode(create(ProxyControlSchema, { requestId, streamEnd: true })),
          );
      },
    };
    return {
      status: first.status,
      headers: first.headers.map((h) => ({ name: h.name, values: [...h.values] })),
      body: body(),
      ...(call.upgrade && first.status === 101 ? { upstream } : {}),
      cancel: () => close(true),
    };
  }
}

/**
 * A stream's data in pieces of at most `max` bytes, joining whatever has already arrived: a list
 * read in 16 KiB TLS records travels as a few large messages, while a watch event that arrives
 * alone is sent at once.
 */
export async function* coalesced(stream: Readable, max: number): AsyncGenerator<Buffer> {
  for (;;) {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < max) {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null) break;
      parts.push(chunk);
      size += chunk.length;
    }
    if (size > 0) {
      const joined = Buffer.concat(parts);
      for (let at = 0; at < joined.length; at += max) yield joined.subarray(at, at + max);
      continue;
    }
    if (stream.errored) throw stream.errored;
    if (stream.readableEnded || stream.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        for (const event of ["readable", "end", "error", "close"]) stream.off(event, done);
        resolve();
      };
      for (const event of ["readable", "end", "error", "close"]) stream.once(event, done);
    });
  }
}

type ReplyPart = Pick<
  MessageInitShape<typeof ProxyResponseSchema>,
  "status" | "body" | "final" | "error" | "credit"
> & {
  headers?: HeaderList;
};

interface RunningReply {
  credit: number;
  wake: (() => void) | undefined;
  lastHeard: number;
  lastSent: number;
  abort: AbortController;
  send(part: ReplyPart): void;
  /** An upgraded connection to the API server, and where the caller's bytes for it stand. */
  upgraded?: { socket: Duplex; nextIndex: bigint; written: number };
}

export interface ProxyResponderOptions {
  bus: Bus;
  cluster: string;
  /** The member API server, with the agent's own credentials. */
  client: KubeClient;
  logger: Logger;
  tuning?: Partial<StreamTuning>;
  /** Replies served at once; more are refused with 503 until one ends. */
  maxConcurrent?: number;
}

/**
 * The agent's end of the gateway: it performs requests for its own cluster against its own API
 * server, as the impersonated Atoll user, and streams the reply back in credited chunks. NATS
 * permissions already keep other clusters' requests away; the checks here are a second fence.
 */
export class ProxyResponder {
  private readonly tuning: StreamTuning;
  private readonly running = new Map<string, RunningReply>();
  /** Request bodies arriving in chunks, by request id. */
  private readonly bodies = new Map<
    string,
    { parts: Uint8Array[]; bytes: number; expected: number; done: (body: Uint8Array | undefined) => void }
  >();
  private subscriptions: Subscription[] = [];
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProxyResponderOptions) {
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
  }

  /** Replies running now. */
  get active(): number {
    return this.running.size;
  }

  start(): this {
    const { nc, names } = this.options.bus;
    this.subscriptions = [
      // A queue group, so replicas of one agent share requests instead of each answering.
      nc.subscribe(names.proxy(this.options.cluster), {
        queue: "proxy",
        callback: (error, message) => {
          if (error) return this.options.logger.error({ err: error }, "proxy subscription failed");
          void this.serve(message.data, (data) => message.respond(data));
        },
      }),
      nc.subscribe(names.proxyControl(this.options.cluster), {
        callback: (_error, message) => this.control(message.data),
      }),
    ];
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.tuning.keepaliveMs, 1000));
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    for (const reply of this.running.values()) reply.abort.abort();
    this.running.clear();
    // Bodies still arriving will not be served; their timers must not hold the process open.
    for (const body of this.bodies.values()) body.done(undefined);
    this.bodies.clear();
  }

  private control(data: Uint8Array): void {
    let message: ReturnType<typeof controlCodec.decode>;
    try {
      message = controlCodec.decode(data);
    } catch {
      return;
    }
    const body = this.bodies.get(message.requestId);
    if (body && message.bodyChunk.length > 0) {
      body.parts.push(message.bodyChunk);
      body.bytes += message.bodyChunk.length;
      if (body.parts.length === body.expected || body.bytes > MAX_REQUEST_BODY_BYTES) {
        this.bodies.delete(message.requestId);
        body.done(body.bytes > MAX_REQUEST_BODY_BYTES ? undefined : Buffer.concat(body.parts));
      }
      return;
    }
    // Every replica hears control messages; only the one running the reply acts.
    const reply = this.running.get(message.requestId);
    if (!reply) return;
    reply.lastHeard = Date.now();
    if (message.cancel) reply.abort.abort();
    if (reply.upgraded) this.forwardCallerBytes(reply, reply.upgraded, message);
    reply.credit += message.credit;
    const wake = reply.wake;
    reply.wake = undefined;
    wake?.();
  }

  /**
   * The caller's bytes on an upgraded connection go to the API server in order; credit for more
   * goes back once half a window of them has been written, so a slow API server slows the caller.
   */
  private forwardCallerBytes(
    reply: RunningReply,
    upgraded: NonNullable<RunningReply["upgraded"]>,
    message: ReturnType<typeof controlCodec.decode>,
  ): void {
    if (message.streamData.length > 0) {
      if (message.streamIndex !== upgraded.nextIndex) {
        this.options.logger.warn(
          { requestId: message.requestId, expected: String(upgraded.nextIndex) },
          "a piece of an upgraded connection was lost; closing it",
        );
        reply.abort.abort();
        return;
      }
      upgraded.nextIndex++;
      upgraded.socket.write(message.streamData, () => {
        const half = Math.max(1, Math.floor(this.tuning.window / 2));
        if (++upgraded.written < half) return;
        reply.send({ credit: upgraded.written });
        upgraded.written = 0;
      });
    }
    if (message.streamEnd) upgraded.socket.end();
  }

  /** Keeps idle streams alive and drops those whose caller went away without a word. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, reply] of this.running) {
      if (now - reply.lastHeard > this.tuning.idleTimeoutMs) {
        this.options.logger.info({ requestId: id }, "the hub stopped asking for a gateway reply; ending it");
        reply.abort.abort();
      } else if (now - reply.lastSent >= this.tuning.keepaliveMs) reply.send({});
    }
  }

  private async serve(data: Uint8Array, accept: (data: Uint8Array) => boolean): Promise<void> {
    const { bus, cluster, logger } = this.options;
    let request: ReturnType<typeof requestCodec.decode>;
    try {
      request = requestCodec.decode(data);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, "dropped an undecodable gateway request");
      return;
    }
    const log = logger.child({ requestId: request.requestId, subject: bus.names.proxy(cluster) });
    let replySubject: string;
    try {
      replySubject = bus.names.proxyReply(cluster, request.requestId);
    } catch {
      log.warn("dropped a gateway request with an invalid id");
      return;
    }
    if (request.cluster !== cluster || request.replySubject !== replySubject) {
      log.warn({ for: request.cluster }, "dropped a gateway request meant for another cluster");
      return;
    }
    // Registered before the accept goes out, since the chunks follow it at once.
    const body =
      request.bodyChunks > 0
        ? new Promise<Uint8Array | undefined>((resolve) => {
            const timer = setTimeout(() => {
              this.bodies.delete(request.requestId);
              resolve(undefined);
            }, this.tuning.idleTimeoutMs);
            this.bodies.set(request.requestId, {
              parts: [],
              bytes: 0,
              expected: request.bodyChunks,
              done: (whole) => {
                clearTimeout(timer);
                resolve(whole);
              },
            });
          })
        : Promise.resolve(request.body);
    accept(new Uint8Array());

    let index = 0n;
    const abort = new AbortController();
    const reply: RunningReply = {
      credit: request.initialCredit || this.tuning.window,
      wake: undefined,
      lastHeard: Date.now(),
      lastSent: Date.now(),
      abort,
      send: (part) => {
        reply.lastSent = Date.now();
        bus.nc.publish(
          replySubject,
          responseCodec.encode(
            create(ProxyResponseSchema, { ...part, requestId: request.requestId, chunkIndex: index++ }),
          ),
        );
      },
    };
    const fail = (status: number, reason: string, message: string) =>
      reply.send({
        status,
        headers: [{ name: "content-type", values: ["application/json"] }],
        body: new TextEncoder().encode(JSON.stringify(statusObject(status, reason, message))),
        final: true,
      });

    let target: RequestTarget;
    try {
      target = readRequestTarget(request.method, request.path);
    } catch (error) {
      if (error instanceof RequestPathError) return fail(400, "BadRequest", error.message);
      throw error;
    }
    if (UPGRADE_SUBRESOURCES.has(target.info.subresource) !== request.upgrade)
      return fail(
        400,
        "BadRequest",
        request.upgrade
          ? "only exec, attach and port-forward are served as connection upgrades"
          : `${target.info.subresource} needs a connection upgrade (kubectl sends one); this request asked for none`,
      );
    const limit = this.options.maxConcurrent ?? 256;
    if (this.running.size >= limit)
      return fail(
        503,
        "ServiceUnavailable",
        `the agent of cluster "${cluster}" is already serving ${limit} gateway requests (watches count until they end); retry shortly`,
      );

    const requestBody = await body;
    if (!requestBody)
      return fail(
        408,
        "Timeout",
        `the request body did not arrive in full within ${this.tuning.idleTimeoutMs / 1000} s, or passed ${MAX_REQUEST_BODY_BYTES} bytes; send it again`,
      );

    this.running.set(request.requestId, reply);
    // Cancelled by the hub, or out of time.
    const timeLimit = request.timeoutMs > 0 ? deadline(request.timeoutMs) : undefined;
    const signal = timeLimit ? AbortSignal.any([abort.signal, timeLimit.signal]) : abort.signal;
    // A reply waiting for credit must notice the cancel too.
    signal.addEventListener("abort", () => reply.wake?.());
    const timeoutText = `the API server did not finish within ${request.timeoutMs / 1000} s`;
    let started = false;
    try {
      const headers = [
        ...requestHeadersToForward(
          Object.fromEntries(request.headers.map((h) => [h.name.toLowerCase(), h.values])),
          request.upgrade,
        ),
        ...impersonationHeaders(
          request.impersonateUser
            ? { user: request.impersonateUser, groups: [...request.impersonateGroups] }
            : undefined,
        ),
      ];
      const upstreamRequest = {
        method: request.method,
        path: target.pathname + target.search,
        headers: toOutgoing(headers),
        ...(requestBody.length > 0 ? { body: requestBody } : {}),
        signal,
      };
      let source: Readable;
      if (request.upgrade) {
        const result = await this.options.client.upgrade(upstreamRequest);
        started = true;
        reply.send(upgradeHead(result.response, result.switched));
        if (result.switched) {
          const { socket, head } = result;
          reply.upgraded = { socket, nextIndex: 0n, written: 0 };
          signal.addEventListener("abort", () => socket.destroy());
          socket.on("error", () => abort.abort());
          if (head.length) socket.unshift(head);
        }
        source = result.switched ? result.socket : result.response;
      } else {
        const response = await this.options.client.stream(upstreamRequest);
        started = true;
        reply.send({
          status: response.statusCode ?? 502,
          headers: responseHeadersToForward(response.headers),
        });
        source = response;
      }
      for await (const piece of coalesced(source, this.tuning.chunkBytes)) {
        while (reply.credit <= 0 && !signal.aborted)
          await new Promise<void>((resolve) => {
            reply.wake = resolve;
          });
        if (signal.aborted) {
          if (firedByTimeout(signal)) reply.send({ final: true, error: timeoutText });
          return;
        }
        reply.credit--;
        reply.send({ body: piece });
      }
      reply.send({ final: true });
    } catch (error) {
      // The hub cancelled: nobody is listening any more.
      const timedOut = firedByTimeout(signal);
      if (signal.aborted && !timedOut) return;
      const message = timedOut ? timeoutText : (error as Error).message;
      if (started) reply.send({ final: true, error: message });
      else if (timedOut) fail(504, "Timeout", timeoutMessage(cluster, request.timeoutMs));
      else reply.send({ final: true, error: `cannot reach the API server: ${message}` });
      log.info({ err: message }, "gateway request failed");
    } finally {
      timeLimit?.clear();
      this.running.delete(request.requestId);
      reply.upgraded?.socket.destroy();
    }
  }
}
