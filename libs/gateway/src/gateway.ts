import { once } from "node:events";
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex, Writable } from "node:stream";
import { canProxy, type Principal, reachesCluster } from "@atoll/access";
import {
  isStreaming,
  isWrite,
  type KubeClient,
  RequestPathError,
  type RequestTarget,
  readRequestTarget,
  statusObject,
  statusResponseText,
  UPGRADE_SUBRESOURCES,
} from "@atoll/kube";
import type { Logger } from "@atoll/log";
import type { GatewayAuditRecord } from "@atoll/store";
import {
  AgentUnavailableError,
  type BusProxyClient,
  coalesced,
  deadline,
  firedByTimeout,
  ProxyReplyError,
  timeoutMessage,
  type UpstreamWriter,
} from "./bus-transport.js";
import {
  clusterIdentity,
  type HeaderList,
  impersonationHeaders,
  requestHeadersToForward,
  responseHeadersToForward,
  toOutgoing,
  upgradeHead,
} from "./headers.js";

/** A cluster as the gateway sees it: how to reach it and what it allows. */
export interface GatewayCluster {
  name: string;
  /** Push mode: the hub dials the API server with the stored credential. Unset: the agent does. */
  client?: KubeClient;
  /** Send requests as the Atoll user (Kubernetes impersonation); off sends them as the credential. */
  impersonate: boolean;
  /** Refuse every write through the gateway, whatever the caller's grants. */
  readOnly: boolean;
}

/** One proxied write, or one refused, as the audit log keeps it. */
export type GatewayAuditEntry = GatewayAuditRecord;

export interface GatewayOptions {
  findCluster: (name: string) => Promise<GatewayCluster | undefined>;
  /** Reaches clusters without a stored credential through their agents; without it they are 503. */
  bus?: BusProxyClient;
  audit: (entry: GatewayAuditEntry) => Promise<void>;
  logger: Logger;
  /** Largest request body; Kubernetes' own limit is 3 MiB. */
  bodyLimitBytes?: number;
  /** How long a request that is not a watch, a followed log or an exec may take. */
  timeoutMs?: number;
}

const ROOT = "/proxy/clusters/";

/** How much of a caller's upgraded connection is gathered into one piece for the bus. */
const UPSTREAM_PIECE_BYTES = 64 * 1024;

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A gateway request: the cluster, and the API path and query it asks of that cluster. */
export interface GatewayTarget extends RequestTarget {
  cluster: string;
}

/** A request that passed admission: where it goes, and whether it changes the cluster. */
interface Admitted {
  target: GatewayTarget;
  cluster: GatewayCluster;
  write: boolean;
}

/** A DNS-1123 label: what names clusters and namespaces alike. */
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Reads /proxy/clusters/<name>/<API path>; a malformed path never gets further. */
export function gatewayTarget(method: string, url: string): GatewayTarget {
  if (!url.startsWith(ROOT))
    throw new GatewayError(404, "NotFound", `gateway paths start with ${ROOT}<cluster>/`);
  const rest = url.slice(ROOT.length);
  const end = rest.search(/[/?]/);
  const segment = end < 0 ? rest : rest.slice(0, end);
  let cluster: string;
  try {
    cluster = decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, "BadRequest", `"${segment}" is not a valid percent-encoded cluster name`);
  }
  if (!CLUSTER_NAME.test(cluster))
    throw new GatewayError(
      400,
      "BadRequest",
      `"${cluster}" is not a cluster name; use ${ROOT}<cluster>/api/...`,
    );
  const target = rest.slice(segment.length);
  try {
    const read = readRequestTarget(method, target.startsWith("/") ? target : `/${target}`);
    // No namespace can have another name, so the request goes no further than the hub.
    if (read.info.namespace && !CLUSTER_NAME.test(read.info.namespace))
      throw new GatewayError(
        400,
        "BadRequest",
        `"${read.info.namespace.slice(0, 80)}" is not a namespace name: lowercase letters, digits and "-", at most 63`,
      );
    return { cluster, ...read };
  } catch (error) {
    if (error instanceof RequestPathError) throw new GatewayError(400, "BadRequest", error.message);
    throw error;
  }
}

const isAccessReview = (target: GatewayTarget) =>
  target.info.group === "authorization.k8s.io" &&
  target.info.resource === "selfsubjectaccessreviews" &&
  target.info.verb === "create";

/**
 * kubectl auth can-i, answered by the hub's grants, the authority every gateway request passes:
 * the member cluster's own RBAC would answer for an identity the hub may not let through.
 */
function answerAccessReview(body: Buffer, principal: Principal, cluster: GatewayCluster): string {
  let review: {
    spec?: { resourceAttributes?: Record<string, unknown>; nonResourceAttributes?: Record<string, unknown> };
  };
  try {
    review = JSON.parse(body.toString("utf8") || "{}");
  } catch {
    throw new GatewayError(400, "BadRequest", "the SelfSubjectAccessReview is not valid JSON");
  }
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const resource = review?.spec?.resourceAttributes;
  const nonResource = review?.spec?.nonResourceAttributes;
  let allowed: boolean;
  let reason: string;
  if (resource) {
    const verb = text(resource.verb);
    const reads =
      ["get", "list", "watch"].includes(verb) && !UPGRADE_SUBRESOURCES.has(text(resource.subresource));
    const needed = reads ? "proxy-read" : "proxy-write";
    const namespace = text(resource.namespace);
    const granted = canProxy(principal, needed, cluster.name, namespace);
    allowed = granted && (reads || !cluster.readOnly);
    reason = allowed
      ? `the hub's grants allow ${needed} on ${namespace ? `namespace "${namespace}" of ` : ""}cluster "${cluster.name}"; the cluster's own RBAC may still refuse`
      : granted
        ? `cluster "${cluster.name}" is read-only through the gateway`
        : `${principal.name} (role ${principal.role}) has no ${needed} grant on ${namespace ? `namespace "${namespace}" of ` : "every namespace of "}cluster "${cluster.name}"`;
  } else {
    allowed = nonResource !== undefined && ["get", "head"].includes(text(nonResource.verb));
    reason = allowed
      ? "discovery is open to every caller who reaches the cluster"
      : "only reading discovery paths is allowed";
  }
  return JSON.stringify({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    metadata: {},
    spec: review?.spec ?? {},
    status: { allowed, ...(allowed ? {} : { denied: true }), reason },
  });
}

function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify(statusObject(code, reason, message));
}

function sendStatus(res: ServerResponse, error: GatewayError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = statusBody(error.status, error.reason, error.message);
  res.writeHead(error.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new GatewayError(
      413,
      "RequestEntityTooLarge",
      `the request body is larger than the gateway's limit of ${limit} bytes; split the change into smaller objects`,
    );
  if (Number(req.headers["content-length"] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Writes and waits while the other side is full; rejects once that side has gone. */
async function writeWithBackpressure(out: Writable, chunk: Uint8Array): Promise<void> {
  if (out.destroyed) throw new Error("the connection has ended");
  if (!out.write(chunk)) await Promise.race([once(out, "drain"), once(out, "close")]);
}

/**
 * A push cluster's answer to an upgrade, shaped as the bus shapes a pull cluster's: after a 101
 * the body is what the API server sends and upstream is the way back to it.
 */
function upgradeAnswer(result: Awaited<ReturnType<KubeClient["upgrade"]>>) {
  const { response } = result;
  const head = upgradeHead(response, result.switched);
  if (!result.switched) return { ...head, body: response, close: () => response.destroy() };
  const { socket } = result;
  if (result.head.length) socket.unshift(result.head);
  return {
    ...head,
    body: socket,
    upstream: { write: (chunk: Uint8Array) => writeWithBackpressure(socket, chunk), end: () => socket.end() },
    close: () => socket.destroy(),
  };
}

/**
 * Copies a cluster's answer to the caller, waiting whenever the caller's side is full so a slow
 * caller slows the source. Resolves with the error that broke the copy while the caller was still
 * there, if one did; the caller's side is then destroyed rather than ended, so the caller knows the
 * answer is incomplete.
 */
async function relay(body: AsyncIterable<Uint8Array>, out: Writable): Promise<Error | undefined> {
  try {
    for await (const chunk of body) {
      if (out.destroyed) break;
      await writeWithBackpressure(out, chunk);
    }
    out.end();
    return undefined;
  } catch (error) {
    // A source cut because the caller left first is no news to report.
    if (out.destroyed) return undefined;
    out.destroy();
    return error as Error;
  }
}

/**
 * The live gateway: /proxy/clusters/<name>/<Kubernetes API path>, every verb, to push clusters
 * directly and to pull clusters through their agents, as the caller, within the caller's grants.
 */
export class Gateway {
  private readonly bodyLimit: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: GatewayOptions) {
    this.bodyLimit = options.bodyLimitBytes ?? 3 * 1024 * 1024;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Checks the path, the cluster and the grants; throws GatewayError when the request may not pass. */
  private async admit(method: string, url: string, principal: Principal): Promise<Admitted> {
    const target = gatewayTarget(method, url);
    const unknown = new GatewayError(
      404,
      "NotFound",
      `no cluster "${target.cluster}" that you can reach through the gateway; list clusters with GET /api/v1/clusters`,
    );
    // Clusters outside every proxy grant look the same as clusters that do not exist.
    if (!reachesCluster(principal, target.cluster)) throw unknown;
    const cluster = await this.options.findCluster(target.cluster);
    if (!cluster) throw unknown;
    const write = isWrite(target.info, method);
    const verb = write ? "proxy-write" : "proxy-read";
    // Discovery (/api, /apis, /openapi, /version) and questions about oneself are every
    // authenticated user's in Kubernetes (system:discovery, system:basic-user): a caller limited
    // to one namespace needs them for kubectl apply's validation and kubectl auth can-i.
    const open = !write && (!target.info.isResourceRequest || target.info.verb === "create");
    if (!open && !canProxy(principal, verb, target.cluster, target.info.namespace)) {
      const scope = target.info.namespace ? `namespace "${target.info.namespace}" of ` : "all namespaces of ";
      throw new GatewayError(
        403,
        "Forbidden",
        `${principal.name} (role ${principal.role}) may not ${write ? "write to" : "read"} ${scope}cluster "${target.cluster}" through the gateway: it needs ${verb}; ask an admin for a role that grants it`,
      );
    }
    if (write && cluster.readOnly)
      throw new GatewayError(
        403,
        "Forbidden",
        `cluster "${target.cluster}" is read-only through the gateway; an admin can change that with atoll cluster update`,
      );
    return { target, cluster, write };
  }

  private audit(
    principal: Principal,
    method: string,
    target: GatewayTarget,
    code: number,
    requestId: string,
  ): Promise<void> {
    const { info } = target;
    return this.options
      .audit({
        user: principal.name,
        role: principal.role,
        cluster: target.cluster,
        method,
        verb: info.verb,
        namespace: info.namespace,
        resource: info.subresource ? `${info.resource}/${info.subresource}` : info.resource,
        name: info.name,
        path: target.pathname + target.search,
        code,
        requestId,
      })
      .catch((error: unknown) =>
        this.options.logger.error(
          { err: error, cluster: target.cluster, requestId },
          "could not record a gateway write",
        ),
      );
  }

  /** Serves one gateway request on a raw response; every failure becomes a Kubernetes Status. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    requestId: string,
  ): Promise<void> {
    const method = req.method ?? "GET";
    let admitted: Admitted | undefined;
    const outcome = this.writeAuditor(principal, method, req.url ?? "", requestId);
    try {
      admitted = await this.admit(method, req.url ?? "", principal);
      const { target, cluster } = admitted;
      if (UPGRADE_SUBRESOURCES.has(target.info.subresource))
        throw new GatewayError(
          400,
          "BadRequest",
          `${target.info.subresource} needs a connection upgrade (kubectl sends one); this request asked for none`,
        );
      const body = await readBody(req, this.bodyLimit);
      if (isAccessReview(target)) {
        const review = answerAccessReview(body, principal, cluster);
        await outcome(201, admitted);
        res.writeHead(201, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(review),
        });
        res.end(review);
        return;
      }
      const streaming = isStreaming(target.info, target.query);
      const hangUp = new AbortController();
      res.on("close", () => hangUp.abort());
      const upstream = await this.open(
        cluster,
        principal,
        {
          method,
          path: target.pathname + target.search,
          headers: requestHeadersToForward(req.headers),
          body,
          timeoutMs: streaming ? 0 : this.timeoutMs,
        },
        hangUp.signal,
      );
      await outcome(upstream.status, admitted);
      res.writeHead(upstream.status, toOutgoing(responseHeadersToForward(upstream.headers)));
      if (streaming) res.flushHeaders();
      const broken = await relay(upstream.body, res);
      upstream.close();
      if (broken)
        this.options.logger.warn(
          { cluster: cluster.name, requestId, err: broken.message },
          "gateway reply broke off",
        );
    } catch (error) {
      if (error instanceof GatewayError) {
        await outcome(error.status, admitted);
        return sendStatus(res, error);
      }
      this.options.logger.error({ err: error, requestId }, "gateway request failed");
      await outcome(500, admitted);
      sendStatus(
        res,
        new GatewayError(500, "InternalError", `the gateway failed: ${(error as Error).message}`),
      );
    }
  }

  /**
   * Records a request's outcome once, if it is a write: with the code the caller got, written
   * before the caller sees the answer, so a write that has returned is always in the log. A write
   * refused before admission (no grant, a read-only cluster) is recorded as well.
   */
  private writeAuditor(
    principal: Principal,
    method: string,
    url: string,
    requestId: string,
  ): (code: number, admitted: Admitted | undefined) => Promise<void> {
    let recorded = false;
    return async (code, admitted) => {
      if (recorded) return;
      recorded = true;
      let target = admitted?.write ? admitted.target : undefined;
      if (!admitted && code === 403)
        try {
          const refused = gatewayTarget(method, url);
          if (isWrite(refused.info, method)) target = refused;
        } catch {
          // A path too malformed to read is refused with 400, not 403, and so never gets here.
        }
      if (target) await this.audit(principal, method, target, code, requestId);
    };
  }

  /**
   * Sends a request to a cluster as the caller, by whichever way reaches it: dialled directly
   * with the stored credential, or through its agent over the bus. Resolves once the status and
   * headers are in; close() ends the reply early. A timeout of 0 lets the reply run until the
   * caller hangs up (signal); otherwise it bounds the whole reply.
   */
  private async open(
    cluster: GatewayCluster,
    principal: Principal,
    call: {
      method: string;
      path: string;
      headers: HeaderList;
      body: Uint8Array;
      timeoutMs: number;
      upgrade?: boolean;
    },
    signal: AbortSignal,
  ): Promise<{
    status: number;
    headers: HeaderList;
    body: AsyncIterable<Uint8Array>;
    upstream?: UpstreamWriter;
    close(): void;
  }> {
    const identity = cluster.impersonate ? clusterIdentity(principal) : undefined;
    if (cluster.client) {
      // Ended by close(), by the caller hanging up, or by running out of time.
      const abort = new AbortController();
      const timeLimit = call.timeoutMs > 0 ? deadline(call.timeoutMs) : undefined;
      const ended = AbortSignal.any([abort.signal, signal, ...(timeLimit ? [timeLimit.signal] : [])]);
      const close = () => {
        timeLimit?.clear();
        abort.abort();
      };
      const request = {
        method: call.method,
        path: call.path,
        headers: toOutgoing([...call.headers, ...impersonationHeaders(identity)]),
        ...(call.body.length > 0 ? { body: call.body } : {}),
      };
      try {
        // An upgraded connection outlives its request, so it is ended by destroying it, not by a signal.
        if (call.upgrade) return upgradeAnswer(await cluster.client.upgrade(request));
        const response = await cluster.client.stream({ ...request, signal: ended });
        return {
          status: response.statusCode ?? 502,
          headers: responseHeadersToForward(response.headers),
          body: response,
          close,
        };
      } catch (error) {
        close();
        if (firedByTimeout(ended))
          throw new GatewayError(504, "Timeout", timeoutMessage(cluster.name, call.timeoutMs));
        throw new GatewayError(
          503,
          "ServiceUnavailable",
          `cannot reach the API server of cluster "${cluster.name}": ${(error as Error).message}`,
        );
      }
    }
    if (!this.options.bus)
      throw new GatewayError(
        503,
        "ServiceUnavailable",
        `cluster "${cluster.name}" has no stored credential and this hub has no bus to reach its agent`,
      );
    try {
      const reply = await this.options.bus.call(cluster.name, { ...call, ...(identity ? { identity } : {}) });
      signal.addEventListener("abort", () => reply.cancel());
      return {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
        ...(reply.upstream ? { upstream: reply.upstream } : {}),
        close: () => reply.cancel(),
      };
    } catch (error) {
      if (error instanceof AgentUnavailableError)
        throw new GatewayError(503, "ServiceUnavailable", error.message);
      if (error instanceof ProxyReplyError)
        // A timed-out reply's message already says how long was waited.
        throw new GatewayError(
          error.timedOut ? 504 : 502,
          error.timedOut ? "Timeout" : "InternalError",
          error.message,
        );
      throw error;
    }
  }

  /**
   * A short text answer read from a cluster exactly as the caller could read it through the
   * gateway (same grants, same identity): for features that add live context, such as recent logs
   * in an AI diagnosis. Undefined when the caller may not read it, or the cluster does not answer
   * 200 within the time given; at most maxBytes are kept.
   */
  async readAsCaller(
    principal: Principal,
    cluster: string,
    path: string,
    options: { maxBytes: number; timeoutMs: number },
  ): Promise<string | undefined> {
    let admitted: Admitted;
    try {
      admitted = await this.admit("GET", `${ROOT}${cluster}${path}`, principal);
    } catch (error) {
      if (error instanceof GatewayError) return undefined;
      throw error;
    }
    const { target, cluster: reached } = admitted;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      const upstream = await this.open(
        reached,
        principal,
        {
          method: "GET",
          path: target.pathname + target.search,
          headers: [],
          body: new Uint8Array(),
          timeoutMs: options.timeoutMs,
        },
        new AbortController().signal,
      );
      try {
        if (upstream.status !== 200) return undefined;
        for await (const chunk of upstream.body) {
          chunks.push(Buffer.from(chunk).subarray(0, options.maxBytes - size));
          size += chunk.length;
          if (size >= options.maxBytes) break;
        }
      } finally {
        upstream.close();
      }
      return Buffer.concat(chunks).toString("utf8");
    } catch {
      return undefined;
    }
  }

  /**
   * Serves an upgrade (exec, attach, port-forward) by whichever way reaches the cluster: a push
   * cluster's connection is dialled directly, a pull cluster's is carried over the bus by its
   * agent. Either way the bytes are pumped both ways, each direction at the pace of its reader.
   */
  async upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal,
    requestId: string,
  ): Promise<void> {
    const method = req.method ?? "GET";
    let admitted: Admitted | undefined;
    // exec and port-forward are writes: audited, refused or not, like any other.
    const outcome = this.writeAuditor(principal, method, req.url ?? "", requestId);
    try {
      admitted = await this.admit(method, req.url ?? "", principal);
      const { target, cluster } = admitted;
      const reply = await this.open(
        cluster,
        principal,
        {
          method,
          path: target.pathname + target.search,
          headers: requestHeadersToForward(req.headers, true),
          body: new Uint8Array(),
          timeoutMs: 0,
          upgrade: true,
        },
        new AbortController().signal,
      );
      await outcome(reply.status, admitted);
      const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ""}`];
      for (const { name, values } of reply.headers)
        for (const value of values) lines.push(`${name}: ${value}`);
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      socket.on("error", () => reply.close());
      socket.on("close", () => reply.close());
      const upstream = reply.upstream;
      if (upstream)
        // The caller's bytes go up as they gather, each piece once the cluster's side has room.
        void (async () => {
          try {
            if (head.length) await upstream.write(head);
            for await (const piece of coalesced(socket, UPSTREAM_PIECE_BYTES)) await upstream.write(piece);
            upstream.end();
          } catch {
            socket.destroy();
          }
        })();
      void relay(reply.body, socket).then((broken) => {
        reply.close();
        if (broken)
          this.options.logger.warn(
            { cluster: cluster.name, requestId, err: broken.message },
            "an upgraded connection broke off",
          );
      });
    } catch (error) {
      const refusal =
        error instanceof GatewayError
          ? error
          : new GatewayError(
              503,
              "ServiceUnavailable",
              `cannot open the stream: ${(error as Error).message}`,
            );
      await outcome(refusal.status, admitted);
      socket.end(statusResponseText(refusal.status, refusal.reason, refusal.message));
    }
  }
}
