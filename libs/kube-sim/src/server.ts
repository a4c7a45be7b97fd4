import { EventEmitter } from "node:events";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { type Duplex, PassThrough } from "node:stream";
import {
  apiVersionOf,
  applyJsonPatch,
  discoveryDocument,
  type FieldRequirement,
  JsonPatchError,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type RequestInfo,
  RequestPathError,
  type ResourceRoute,
  type ResourceType,
  readRequestTarget,
  resourceRoute,
  SelectorError,
  STANDARD_VERBS,
  statusObject,
  statusResponseText,
  tokenKubeconfig,
  toTable,
  wantsTable,
} from "@atoll/kube";
import { createWebSocketStream, type WebSocket, WebSocketServer } from "ws";
import YAML from "yaml";
import { mergePatch, stripDirectives } from "./patch.js";
import {
  PORT_FORWARD_PROTOCOL,
  PORT_FORWARD_TUNNEL_PROTOCOL,
  type PortDialer,
  type PortForwardTarget,
  servePortForward,
} from "./port-forward.js";
import { type Obj, SimError, type SimEvent, SimStore, type StoreOptions, typeKeyOf } from "./store.js";
import { selfSignedTls, type TlsMaterial } from "./tls.js";
import { WorkloadController } from "./workloads.js";

export interface KubeSimOptions extends StoreOptions {
  /** Cluster name, used for the kubeconfig context. */
  name: string;
  /** Bearer token every request must carry; open access when unset. */
  token?: string;
  host?: string;
  port?: number;
  /** PEM key and certificate; a shared self-signed one by default, or false for plain HTTP. */
  tls?: TlsMaterial | false;
  bookmarkIntervalMs?: number;
  kubernetesVersion?: string;
  /** Decides each request by the identity it acts as; everything is allowed when unset. */
  authorize?: (access: SimAccess) => boolean;
  /**
   * Where port-forward connects. By default a port a container declares echoes what it is sent,
   * and any other port refuses the connection, as an empty port in a real pod would.
   */
  portForward?: PortDialer;
  /**
   * Runs pods for Deployments, ReplicaSets, StatefulSets and DaemonSets and reports them ready,
   * as the controllers and kubelets of a real cluster would (see WorkloadController).
   */
  workloads?: boolean;
  /**
   * Refuses, as kube-apiserver does, to create an object through the API in a namespace that does
   * not exist. Off by default, so tests may seed objects anywhere.
   */
  namespacesMustExist?: boolean;
}

/** Who a request acts as and what it does, as an authorizer sees it. */
export interface SimAccess {
  /** The Impersonate-User header, or "system:admin" for the token holder itself. */
  user: string;
  groups: string[];
  verb: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

export interface SimRequestRecord extends SimAccess {
  method: string;
  path: string;
  /** Whether the request carried impersonation headers. */
  impersonated: boolean;
}

const REQUEST_LOG_SIZE = 1000;

interface SimContainer {
  name: string;
  ports?: { containerPort: number }[];
}

type Route = ResourceRoute;

const MAX_BODY = 8 * 1024 * 1024;

const status = statusObject;

function encodeContinue(rv: number, key: string): string {
  return Buffer.from(JSON.stringify({ rv, key })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; key: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      rv: number;
      key: string;
    };
    if (typeof parsed.rv !== "number" || typeof parsed.key !== "string") throw new Error("shape");
    return parsed;
  } catch {
    throw new SimError(400, "BadRequest", `invalid continue token "${token}"`);
  }
}

/** Writes to a streaming response unless it has ended or broken: a stream may outlive its end. */
function stream(res: http.ServerResponse, text: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(text);
}

/**
 * An in-memory Kubernetes API server: discovery, CRUD, patch, paginated list and watch with
 * bookmarks and 410 Gone, enough for kubectl and our agents to treat it as a cluster.
 */
export class KubeSim {
  readonly store: SimStore;
  private server: http.Server | undefined;
  private baseUrl = "";
  private caCert: string | undefined;
  private readonly openWatches = new Set<http.ServerResponse>();
  private readonly logs = new Map<string, string[]>();
  private readonly logLines = new EventEmitter().setMaxListeners(0);
  /** The most recent requests, oldest first, with the identity each acted as. */
  readonly requests: SimRequestRecord[] = [];
  private readonly execSockets = new WebSocketServer({
    noServer: true,
    // v5 (what kubectl offers) frames output as v4 does; it adds only a close signal for stdin.
    handleProtocols: (offered) =>
      ["v5.channel.k8s.io", "v4.channel.k8s.io"].find((p) => offered.has(p)) ?? false,
  });
  /**
   * kubectl 1.30+ tunnels port-forward's SPDY inside WebSocket binary messages. Its subprotocol
   * name holds a "/", which ws will not accept as a token, so the sim negotiates it itself.
   */
  private readonly portForwardSockets = new WebSocketServer({ noServer: true }).on("headers", (headers) =>
    headers.push(`Sec-WebSocket-Protocol: ${PORT_FORWARD_TUNNEL_PROTOCOL}`),
  );

  private readonly workloads: WorkloadController | undefined;

  constructor(readonly options: KubeSimOptions) {
    this.store = new SimStore(options);
    if (options.workloads) this.workloads = new WorkloadController(this.store);
  }

  get url(): string {
    if (!this.baseUrl) throw new Error("the sim is not started; call start() first");
    return this.baseUrl;
  }

  get name(): string {
    return this.options.name;
  }

  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((error: unknown) => this.fail(res, error));
    };
    const tls = this.options.tls === false ? undefined : (this.options.tls ?? (await selfSignedTls()));
    this.caCert = tls?.cert;
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.upgrade(req, socket, head);
      } catch (error) {
        const [code, reason] =
          error instanceof SimError ? [error.status, error.reason] : [500, "InternalError"];
        socket.end(statusResponseText(code, reason, (error as Error).message));
      }
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) =>
      this.server!.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve),
    );
    this.workloads?.start();
    const address = this.server.address() as AddressInfo;
    this.baseUrl = `${tls ? "https" : "http"}://${this.options.host ?? "127.0.0.1"}:${address.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.workloads?.stop();
    for (const res of this.openWatches) res.end();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The request URLs (path and query) of the watches and followed logs open now. */
  openWatchUrls(): string[] {
    return [...this.openWatches].map((res) => res.req.url ?? "");
  }

  /** Cuts every open watch, as an API server restart or a dropped connection would. */
  dropWatches(): void {
    for (const res of this.openWatches) res.destroy();
  }

  kubeconfig(): string {
    return tokenKubeconfig({
      name: this.name,
      server: this.url,
      ...(this.caCert ? { caCert: this.caCert } : {}),
      ...(this.options.token ? { token: this.options.token } : {}),
    });
  }

  /** Appends a line to a container's log; followers see it at once. */
  writeLog(namespace: string, pod: string, line: string, container?: string): void {
    const key = this.logKey(namespace, pod, container ?? this.containersOf(namespace, pod)[0]?.name ?? "");
    const lines = this.logs.get(key) ?? [];
    lines.push(line);
    this.logs.set(key, lines);
    this.logLines.emit(key, line);
  }

  private logKey(namespace: string, pod: string, container: string): string {
    return `${namespace}/${pod}/${container}`;
  }

  private containersOf(namespace: string, pod: string): SimContainer[] {
    const type = this.store.findType("", "v1", "pods")!;
    const object = this.store.tryGet(type, namespace, pod);
    return (object?.spec?.containers ?? []) as SimContainer[];
  }

  /** Creates or replaces an object through the same path the API uses. */
  apply(object: Obj): Obj {
    const type = this.store.typeForObject(object);
    const existing = this.store.tryGet(type, object.metadata?.namespace, object.metadata?.name);
    if (!existing) return this.store.create(type, object);
    return this.store.update(type, {
      ...object,
      metadata: { ...object.metadata, resourceVersion: undefined },
    });
  }

  private fail(res: http.ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const [code, reason] =
      error instanceof SimError
        ? [error.status, error.reason]
        : error instanceof SelectorError || error instanceof JsonPatchError
          ? [400, "BadRequest"]
          : [500, "InternalError"];
    this.send(res, code, status(code, reason, (error as Error).message));
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (["healthz", "readyz", "livez"].includes(parts[0] ?? "")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
      return;
    }
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    const denied = this.authorise(req, url);
    if (denied) return this.send(res, 403, status(403, "Forbidden", denied));
    // kubectl auth whoami: who the request acts as, impersonation applied.
    if (req.method === "POST" && url.pathname === "/apis/authentication.k8s.io/v1/selfsubjectreviews") {
      const { user, groups } = this.requests.at(-1)!;
      return this.send(res, 201, {
        kind: "SelfSubjectReview",
        apiVersion: "authentication.k8s.io/v1",
        metadata: { creationTimestamp: null },
        status: { userInfo: { username: user, groups } },
      });
    }
    const discovery = this.discovery(parts);
    if (discovery) return this.send(res, 200, discovery);
    const route = this.route(parts);
    if (!route)
      return this.send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
    const method = req.method ?? "GET";
    const { type, namespace, name, subresource } = route;
    if (subresource === "log" && type.resource === "pods" && method === "GET" && name)
      return this.podLog(req, res, namespace ?? "", name, url.searchParams);
    if (subresource && subresource !== "status") {
      return this.send(
        res,
        404,
        status(
          404,
          "NotFound",
          `the server could not find the requested resource (${type.resource}/${subresource})`,
        ),
      );
    }
    if (method === "GET" && !name) {
      return url.searchParams.get("watch") === "1" || url.searchParams.get("watch") === "true"
        ? this.watch(req, res, route, url.searchParams)
        : this.list(req, res, route, url.searchParams);
    }
    if (method === "GET") return this.send(res, 200, this.store.get(type, namespace, name!));
    if (method === "POST" && !name)
      return this.send(res, 201, this.createThroughApi(type, await this.body(req), namespace));
    if (method === "PUT" && name) {
      const body = await this.body(req);
      if (body.metadata?.name !== undefined && body.metadata.name !== name) {
        throw new SimError(
          400,
          "BadRequest",
          `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
        );
      }
      return this.send(
        res,
        200,
        this.store.update(type, { ...body, metadata: { ...body.metadata, name } }, namespace, subresource),
      );
    }
    if (method === "PATCH" && name) return this.patch(req, res, route);
    if (method === "DELETE" && name) return this.send(res, 200, this.store.delete(type, namespace, name));
    if (method === "DELETE") {
      const labels = parseLabelSelector(url.searchParams.get("labelSelector") ?? "");
      const doomed = this.store
        .list(type, namespace)
        .filter(({ object }) => matchesLabels(object.metadata.labels, labels));
      for (const { object } of doomed)
        this.store.delete(type, object.metadata.namespace, object.metadata.name);
      return this.send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" });
    }
    return this.send(
      res,
      405,
      status(405, "MethodNotAllowed", `${method} is not supported on ${url.pathname}`),
    );
  }

  /**
   * Pod exec and port-forward, the upgrades kubectl makes. exec speaks the WebSocket channel
   * protocol (kubectl's first choice), and a few commands answer from the sim's state while the
   * rest exit 127 as a shell would. port-forward speaks SPDY, directly or tunnelled in WebSocket.
   */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://sim");
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`)
      throw new SimError(401, "Unauthorized", "Unauthorized");
    const denied = this.authorise(req, url);
    if (denied) throw new SimError(403, "Forbidden", denied);
    const route = this.route(url.pathname.split("/").filter(Boolean).map(decodeURIComponent));
    const subresource = route?.type.resource === "pods" && route.name ? route.subresource : undefined;
    if (subresource === "portforward") {
      this.portForward(req, socket, head, { namespace: route!.namespace ?? "", pod: route!.name! });
      return;
    }
    if (subresource !== "exec")
      throw new SimError(
        400,
        "BadRequest",
        `kube-sim serves only pod exec and port-forward as upgrades, not ${url.pathname}`,
      );
    if (req.headers.upgrade?.toLowerCase() !== "websocket")
      throw new SimError(400, "BadRequest", "kube-sim speaks exec over WebSocket only");
    const namespace = route!.namespace ?? "";
    const container = this.containerFor(namespace, route!.name!, url.searchParams);
    const command = url.searchParams.getAll("command");
    const user = this.requests.at(-1)?.user ?? "system:admin";
    this.execSockets.handleUpgrade(req, socket, head, (ws) =>
      this.runCommand(ws, command, { pod: route!.name!, namespace, container, user }),
    );
  }

  private portForward(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    pod: { namespace: string; pod: string },
  ): void {
    this.store.get(this.store.findType("", "v1", "pods")!, pod.namespace, pod.pod);
    const dial = (target: PortForwardTarget) => this.dialPod(target);
    const upgrade = req.headers.upgrade?.toLowerCase();
    if (upgrade === "websocket") {
      const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
      if (!offered.includes(PORT_FORWARD_TUNNEL_PROTOCOL))
        throw new SimError(
          400,
          "BadRequest",
          `port-forward over WebSocket needs the ${PORT_FORWARD_TUNNEL_PROTOCOL} subprotocol`,
        );
      delete req.headers["sec-websocket-protocol"];
      this.portForwardSockets.handleUpgrade(req, socket, head, (ws) =>
        servePortForward(createWebSocketStream(ws), pod, dial),
      );
      return;
    }
    const offered = (req.headersDistinct["x-stream-protocol-version"] ?? []).flatMap((v) => v.split(","));
    if (upgrade !== "spdy/3.1" || !offered.map((p) => p.trim()).includes(PORT_FORWARD_PROTOCOL))
      throw new SimError(
        400,
        "BadRequest",
        `port-forward needs Upgrade: SPDY/3.1 with X-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}, or a WebSocket with the ${PORT_FORWARD_TUNNEL_PROTOCOL} subprotocol`,
      );
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
        `X-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`,
    );
    if (head.length) socket.unshift(head);
    servePortForward(socket, pod, dial);
  }

  private async dialPod(target: PortForwardTarget): Promise<Duplex> {
    if (this.options.portForward) return this.options.portForward(target);
    const declared = this.containersOf(target.namespace, target.pod).some((c) =>
      (c.ports ?? []).some((p) => p.containerPort === target.port),
    );
    if (!declared)
      throw new Error(`failed to connect to localhost:${target.port} inside the pod: connection refused`);
    return new PassThrough();
  }

  private runCommand(
    ws: WebSocket,
    command: string[],
    context: { pod: string; namespace: string; container: string; user: string },
  ): void {
    const channel = (n: number, text: string) =>
      ws.send(Buffer.concat([Buffer.from([n]), Buffer.from(text)]));
    const [program, ...args] = command;
    const outputs: Record<string, () => string> = {
      echo: () => `${args.join(" ")}\n`,
      hostname: () => `${context.pod}\n`,
      whoami: () => `${context.user}\n`,
      printenv: () => `POD_NAMESPACE=${context.namespace}\nCONTAINER=${context.container}\n`,
    };
    const output = program === undefined ? undefined : outputs[program];
    if (output) {
      channel(1, output());
      channel(3, JSON.stringify({ metadata: {}, status: "Success" }));
    } else {
      channel(2, `sh: ${program ?? ""}: not found\n`);
      channel(
        3,
        JSON.stringify({
          metadata: {},
          status: "Failure",
          message: "command terminated with non-zero exit code: error executing command [...], exit code 127",
          reason: "NonZeroExitCode",
          details: { causes: [{ reason: "ExitCode", message: "127" }] },
        }),
      );
    }
    ws.close(1000);
  }

  /** The container a log or exec request means: the one named, or the pod's only one. */
  private containerFor(namespace: string, pod: string, params: URLSearchParams): string {
    this.store.get(this.store.findType("", "v1", "pods")!, namespace, pod);
    const containers = this.containersOf(namespace, pod).map((c) => c.name);
    const container = params.get("container") ?? (containers.length === 1 ? containers[0] : undefined);
    if (container === undefined)
      throw new SimError(
        400,
        "BadRequest",
        `a container name must be specified for pod ${pod}, choose one of: [${containers.join(" ")}]`,
      );
    if (!containers.includes(container))
      throw new SimError(400, "BadRequest", `container ${container} is not valid for pod ${pod}`);
    return container;
  }

  /** Records who the request acts as and returns why it is refused, if it is. */
  private authorise(req: http.IncomingMessage, url: URL): string | undefined {
    let info: RequestInfo;
    try {
      ({ info } = readRequestTarget(req.method ?? "GET", url.pathname + url.search));
    } catch (error) {
      if (error instanceof RequestPathError) return undefined;
      throw error;
    }
    const impersonatedUser = req.headersDistinct["impersonate-user"]?.[0];
    const access: SimAccess = {
      user: impersonatedUser ?? "system:admin",
      groups: req.headersDistinct["impersonate-group"] ?? (impersonatedUser ? [] : ["system:masters"]),
      verb: info.verb,
      namespace: info.namespace,
      resource: info.resource,
      subresource: info.subresource,
      name: info.name,
    };
    this.requests.push({
      ...access,
      method: req.method ?? "GET",
      path: url.pathname + url.search,
      impersonated: impersonatedUser !== undefined,
    });
    if (this.requests.length > REQUEST_LOG_SIZE) this.requests.shift();
    if (!this.options.authorize || this.options.authorize(access)) return undefined;
    const group = info.group === "" ? '""' : `"${info.group}"`;
    const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
    const where = info.namespace ? ` in the namespace "${info.namespace}"` : " at the cluster scope";
    return info.isResourceRequest
      ? `${info.resource}${info.name ? ` "${info.name}"` : ""} is forbidden: User "${access.user}" cannot ${info.verb} resource "${resource}" in API group ${group}${where}`
      : `forbidden: User "${access.user}" cannot ${info.verb} path "${url.pathname}"`;
  }

  /** Serves a container's log: all of it, its tail, or followed until the client hangs up. */
  private podLog(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    namespace: string,
    pod: string,
    params: URLSearchParams,
  ): void {
    const container = this.containerFor(namespace, pod, params);
    const key = this.logKey(namespace, pod, container);
    const tail = params.get("tailLines");
    const lines = this.logs.get(key) ?? [];
    const shown = tail === null ? lines : lines.slice(Math.max(0, lines.length - Number(tail)));
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    for (const line of shown) res.write(`${line}\n`);
    if (!["true", "1"].includes(params.get("follow") ?? "")) {
      res.end();
      return;
    }
    res.flushHeaders();
    const follow = (line: string) => stream(res, `${line}\n`);
    this.logLines.on(key, follow);
    this.openWatches.add(res);
    const stop = () => {
      this.logLines.off(key, follow);
      this.openWatches.delete(res);
    };
    res.on("close", stop);
    req.on("close", stop);
  }

  private async body(req: http.IncomingMessage): Promise<Obj> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new SimError(413, "RequestEntityTooLarge", "request body too large");
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    try {
      const parsed = /yaml/.test(req.headers["content-type"] ?? "") ? YAML.parse(text) : JSON.parse(text);
      if (parsed === null || typeof parsed !== "object") throw new Error("not an object");
      return parsed as Obj;
    } catch (error) {
      throw new SimError(400, "BadRequest", `cannot decode request body: ${(error as Error).message}`);
    }
  }

  private createThroughApi(type: ResourceType, body: Obj, namespace: string | undefined): Obj {
    const target = namespace ?? body.metadata?.namespace ?? "default";
    if (
      this.options.namespacesMustExist &&
      type.namespaced &&
      !this.store.tryGet(this.store.findType("", "v1", "namespaces")!, undefined, target)
    )
      throw new SimError(404, "NotFound", `namespaces "${target}" not found`);
    return this.store.create(type, body, namespace);
  }

  private async patch(req: http.IncomingMessage, res: http.ServerResponse, route: Route): Promise<void> {
    const { type, namespace, name, subresource } = route;
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    const body = await this.body(req);
    const existing = this.store.tryGet(type, namespace, name!);
    if (contentType === "application/apply-patch+yaml") {
      if (!existing) {
        return this.send(
          res,
          201,
          this.createThroughApi(type, { ...body, metadata: { ...body.metadata, name } }, namespace),
        );
      }
      const applied = mergePatch(existing, stripDirectives(body));
      applied.metadata.resourceVersion = undefined;
      return this.send(res, 200, this.store.update(type, applied, namespace, subresource));
    }
    if (!existing) throw new SimError(404, "NotFound", `${type.resource} "${name}" not found`);
    let patched: Obj;
    if (contentType === "application/json-patch+json") patched = applyJsonPatch(existing, body);
    else if (contentType === "application/merge-patch+json") patched = mergePatch(existing, body);
    else if (contentType === "application/strategic-merge-patch+json")
      patched = mergePatch(existing, stripDirectives(body));
    else
      throw new SimError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
    if (body.metadata?.resourceVersion === undefined) patched.metadata.resourceVersion = undefined;
    this.send(res, 200, this.store.update(type, patched, namespace, subresource));
  }

  private selectors(params: URLSearchParams): { labels: LabelRequirement[]; fields: FieldRequirement[] } {
    return {
      labels: parseLabelSelector(params.get("labelSelector") ?? ""),
      fields: parseFieldSelector(params.get("fieldSelector") ?? ""),
    };
  }

  private list(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Route,
    params: URLSearchParams,
  ): void {
    const { labels, fields } = this.selectors(params);
    const limit = Number(params.get("limit") ?? "0");
    const continueToken = params.get("continue");
    let listRv = this.store.resourceVersion;
    let afterKey: string | undefined;
    if (continueToken) {
      const parsed = decodeContinue(continueToken);
      if (parsed.rv < this.store.compactedRv) {
        throw new SimError(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      }
      listRv = parsed.rv;
      afterKey = parsed.key;
    }
    const items: Obj[] = [];
    let lastKey: string | undefined;
    let more = false;
    for (const { key, object } of this.store.entries(route.type, route.namespace, afterKey)) {
      if (!matchesLabels(object.metadata.labels, labels) || !matchesFields(object, fields)) continue;
      if (limit > 0 && items.length >= limit) {
        more = true;
        break;
      }
      items.push(object);
      lastKey = key;
    }
    const metadata: Obj = { resourceVersion: String(listRv) };
    if (more && lastKey !== undefined) metadata.continue = encodeContinue(listRv, lastKey);
    const body = wantsTable(req.headers.accept)
      ? toTable(route.type, items, metadata, { includeObject: params.get("includeObject") ?? undefined })
      : { kind: `${route.type.kind}List`, apiVersion: apiVersionOf(route.type), metadata, items };
    this.send(res, 200, body);
  }

  private watch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Route,
    params: URLSearchParams,
  ): void {
    const { labels, fields } = this.selectors(params);
    const typeKey = typeKeyOf(route.type);
    const sinceParam = params.get("resourceVersion") ?? "";
    const table = wantsTable(req.headers.accept);
    const includeObject = params.get("includeObject") ?? undefined;
    let headersSent = false;
    const matches = (event: Pick<SimEvent, "typeKey" | "object">) =>
      event.typeKey === typeKey &&
      (!route.namespace || !route.type.namespaced || event.object.metadata.namespace === route.namespace) &&
      (!route.name || event.object.metadata.name === route.name) &&
      matchesLabels(event.object.metadata.labels, labels) &&
      matchesFields(event.object, fields);
    const write = (type: string, object: Obj) => {
      const payload = table
        ? toTable(
            route.type,
            [object],
            { resourceVersion: object.metadata.resourceVersion },
            { includeObject, omitHeaders: headersSent },
          )
        : object;
      headersSent = true;
      stream(res, `${JSON.stringify({ type, object: payload })}\n`);
    };
    const backlog: { type: string; object: Obj }[] = [];
    if (sinceParam === "" || sinceParam === "0") {
      for (const { object } of this.store.entries(route.type, route.namespace)) {
        if (matches({ typeKey, object })) backlog.push({ type: "ADDED", object });
      }
    } else {
      const since = Number(sinceParam);
      if (!Number.isFinite(since))
        throw new SimError(400, "BadRequest", `invalid resourceVersion "${sinceParam}"`);
      if (since < this.store.compactedRv) {
        // A real API server answers 200 and sends the 410 as an ERROR event; clients handle both.
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
        res.end(
          `${JSON.stringify({ type: "ERROR", object: status(410, "Expired", `too old resource version: ${since} (${this.store.compactedRv})`) })}\n`,
        );
        return;
      }
      for (const event of this.store.eventsSince(since)) if (matches(event)) backlog.push(event);
    }
    res.writeHead(200, {
      "content-type": "application/json",
      "transfer-encoding": "chunked",
      "cache-control": "no-cache",
    });
    res.flushHeaders();
    for (const event of backlog) write(event.type, event.object);
    const unsubscribe = this.store.subscribe((event) => {
      if (matches(event)) write(event.type, event.object);
    });
    const bookmarks =
      params.get("allowWatchBookmarks") === "true"
        ? setInterval(() => {
            stream(
              res,
              `${JSON.stringify({ type: "BOOKMARK", object: { kind: route.type.kind, apiVersion: apiVersionOf(route.type), metadata: { resourceVersion: String(this.store.resourceVersion) } } })}\n`,
            );
          }, this.options.bookmarkIntervalMs ?? 5000)
        : undefined;
    const cleanup = () => {
      unsubscribe();
      clearInterval(bookmarks);
      clearTimeout(timeout);
      this.openWatches.delete(res);
    };
    // The response closes only once a slow client has read what is buffered; the watch stops
    // listening when it ends, not then.
    const timeoutSeconds = Number(params.get("timeoutSeconds") ?? "0");
    const timeout =
      timeoutSeconds > 0
        ? setTimeout(() => {
            cleanup();
            res.end();
          }, timeoutSeconds * 1000)
        : undefined;
    this.openWatches.add(res);
    res.on("close", cleanup);
    req.on("close", cleanup);
  }

  private route(parts: string[]): Route | undefined {
    return resourceRoute(parts, (group, version, resource) => this.store.findType(group, version, resource));
  }

  /**
   * Just enough OpenAPI v3 for kubectl to see that PATCH accepts fieldValidation, so it validates
   * on the server instead of downloading schemas for client-side validation.
   */
  private openApi(parts: string[]): Obj | undefined {
    const groupVersions = new Map<string, ResourceType[]>();
    for (const t of this.store.types()) {
      const key = t.group === "" ? `api/${t.version}` : `apis/${t.group}/${t.version}`;
      groupVersions.set(key, [...(groupVersions.get(key) ?? []), t]);
    }
    if (parts.length === 2) {
      return {
        paths: Object.fromEntries(
          [...groupVersions.keys()].map((gv) => [
            gv,
            { serverRelativeURL: `/openapi/v3/${gv}?hash=${this.store.types().length}` },
          ]),
        ),
      };
    }
    const types = groupVersions.get(parts.slice(2).join("/"));
    if (!types) return undefined;
    const fieldValidation = {
      name: "fieldValidation",
      in: "query",
      schema: { type: "string", uniqueItems: true },
    };
    const paths: Obj = {};
    for (const t of types) {
      const root = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
      const item = `${root}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.resource}/{name}`;
      paths[item] = {
        patch: {
          operationId: `patch${t.kind}`,
          parameters: [fieldValidation],
          responses: { "200": { description: "OK" } },
          "x-kubernetes-action": "patch",
          "x-kubernetes-group-version-kind": { group: t.group, version: t.version, kind: t.kind },
        },
      };
    }
    return {
      openapi: "3.0.0",
      info: { title: "Kubernetes", version: this.options.kubernetesVersion ?? "v1.30.0" },
      paths,
    };
  }

  private discovery(parts: string[]): Obj | undefined {
    if (parts[0] === "openapi" && parts[1] === "v3") return this.openApi(parts);
    return discoveryDocument(this.store.types(), parts, {
      verbs: STANDARD_VERBS,
      statusSubresource: true,
      gitVersion: this.options.kubernetesVersion ?? "v1.30.0",
      gitCommit: "kube-sim",
    });
  }
}
