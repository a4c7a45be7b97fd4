import { readFileSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";

/** How a client proves who it is on a request: client-node's KubeConfig, or a service account. */
interface Credentials {
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

const load = createRequire(import.meta.url);

/**
 * client-node reads kubeconfigs with every way to authenticate (exec plugins, client certificates,
 * cloud providers), and costs tens of MB once loaded; an agent inside its cluster needs none of it,
 * so it is loaded only when a kubeconfig is read.
 */
function newKubeConfig(): KubeConfig {
  const { KubeConfig } = load("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  return new KubeConfig();
}

/** Where Kubernetes mounts a pod's service account. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * A pod's service account: its token and the cluster's CA, read again when the files change, as
 * the kubelet rotates bound tokens well before they expire.
 */
class ServiceAccountCredentials implements Credentials {
  private read: { changedMs: number; token: string; ca: Buffer } | undefined;

  constructor(private readonly directory: string) {}

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    const tokenFile = join(this.directory, "token");
    const changedMs = statSync(tokenFile).mtimeMs;
    if (this.read?.changedMs !== changedMs)
      this.read = {
        changedMs,
        token: readFileSync(tokenFile, "utf8").trim(),
        ca: readFileSync(join(this.directory, "ca.crt")),
      };
    options.headers = { ...options.headers, authorization: `Bearer ${this.read.token}` };
    options.agent = new https.Agent({ ca: this.read.ca });
  }
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
  readonly code = "KUBE_API_ERROR";
}

export interface KubeRequest {
  method?: string;
  /** Path with query string, relative to the server root. */
  path: string;
  body?: string | Uint8Array;
  /** A header given several values is sent once per value. */
  headers?: http.OutgoingHttpHeaders;
  signal?: AbortSignal;
}

/**
 * A thin HTTP client for one cluster. Credentials come from a kubeconfig through client-node, so
 * tokens, client certificates and exec plugins all work, or from the pod's service account; the
 * caller owns streaming.
 */
export class KubeClient {
  private pooled: { key: string; agent: http.Agent } | undefined;

  private constructor(
    private readonly config: Credentials,
    readonly server: string,
    readonly contextName: string,
  ) {}

  /** One client per context in a kubeconfig (YAML or JSON text). */
  static allFromKubeconfig(text: string): KubeClient[] {
    const config = newKubeConfig();
    config.loadFromString(text);
    return config.getContexts().map((context) => KubeClient.fromConfig(config, context.name));
  }

  /** Inside a pod: the API server Kubernetes names in its environment, and the mounted service account. */
  static inCluster(directory = SERVICE_ACCOUNT_DIR): KubeClient {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
    if (!host)
      throw new Error("not running in a cluster (KUBERNETES_SERVICE_HOST is unset); set KUBECONFIG instead");
    const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return new KubeClient(new ServiceAccountCredentials(directory), server, "inClusterContext");
  }

  static fromKubeconfig(text: string, context?: string): KubeClient {
    const config = newKubeConfig();
    config.loadFromString(text);
    return KubeClient.fromConfig(config, context ?? config.getCurrentContext());
  }

  private static fromConfig(source: KubeConfig, context: string): KubeClient {
    const config = newKubeConfig();
    config.loadFromOptions({
      clusters: source.getClusters(),
      users: source.getUsers(),
      contexts: source.getContexts(),
      currentContext: context,
    });
    const cluster = config.getCurrentCluster();
    if (!cluster)
      throw new Error(`kubeconfig context "${context}" names no cluster; check its "cluster" field`);
    return new KubeClient(config, cluster.server.replace(/\/$/, ""), context);
  }

  private async open(request: KubeRequest): Promise<http.ClientRequest> {
    const url = new URL(this.server + request.path);
    const options: https.RequestOptions = {
      method: request.method ?? "GET",
      headers: { accept: "application/json", ...request.headers },
    };
    await this.config.applyToHTTPSOptions(options);
    const transport = url.protocol === "https:" ? https : http;
    const req = transport.request(url, { ...options, agent: this.agentFor(options), signal: request.signal });
    // Marks the error before the caller sees it: see sentAgainIfClosedWhileIdle.
    req.on("error", (error) => Object.assign(error, { reusedSocket: req.reusedSocket }));
    return req;
  }

  /**
   * client-node makes a new agent for every request, so every request would pay for a TLS
   * handshake. One keep-alive agent per credential is reused instead.
   */
  private agentFor(options: https.RequestOptions): http.Agent | undefined {
    const fresh = options.agent;
    if (!(fresh instanceof https.Agent)) return fresh instanceof http.Agent ? fresh : undefined;
    const key = [fresh.options.ca, fresh.options.cert, fresh.options.key].map(String).join("|");
    if (this.pooled?.key !== key) {
      this.pooled?.agent.destroy();
      this.pooled = { key, agent: new https.Agent({ ...fresh.options, keepAlive: true }) };
    }
    return this.pooled.agent;
  }

  /** Sends a request and resolves with the response stream once headers arrive. */
  async stream(request: KubeRequest): Promise<http.IncomingMessage> {
    return await sentAgainIfClosedWhileIdle(async () => {
      const req = await this.open(request);
      return await new Promise<http.IncomingMessage>((resolve, reject) => {
        req.on("response", resolve);
        req.on("error", reject);
        if (request.body !== undefined) req.write(request.body);
        req.end();
      });
    });
  }

  /**
   * Sends an upgrade request (exec, attach, port-forward). It resolves with the switched socket,
   * or with the plain response when the server declines to switch.
   */
  async upgrade(
    request: KubeRequest,
  ): Promise<
    | { switched: true; response: http.IncomingMessage; socket: Duplex; head: Buffer }
    | { switched: false; response: http.IncomingMessage }
  > {
    return await sentAgainIfClosedWhileIdle(async () => {
      const req = await this.open(request);
      return await new Promise<Awaited<ReturnType<KubeClient["upgrade"]>>>((resolve, reject) => {
        req.on("upgrade", (response, socket, head) => resolve({ switched: true, response, socket, head }));
        req.on("response", (response) => resolve({ switched: false, response }));
        req.on("error", reject);
        req.end();
      });
    });
  }

  /** Sends a request and parses a JSON answer; non-2xx answers become KubeApiError. */
  async json<T = unknown>(request: KubeRequest): Promise<T> {
    const response = await this.stream(request);
    const text = await readBody(response);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw toApiError(status, text, request.path);
    return JSON.parse(text) as T;
  }
}

/**
 * Sends again, once, a request that went out on a pooled connection just as the server closed it
 * for idleness: the server never read it, so Node's guidance is to resend it on a fresh connection.
 */
async function sentAgainIfClosedWhileIdle<T>(send: () => Promise<T>): Promise<T> {
  return await send().catch((error: unknown) => {
    const e = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
    if (e.reusedSocket !== true || e.code !== "ECONNRESET") throw error;
    return send();
  });
}

export async function readBody(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function toApiError(status: number, text: string, path: string): KubeApiError {
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeApiError(status, parsed.reason ?? "", `${path}: ${status} ${parsed.message ?? text}`);
  } catch {
    return new KubeApiError(status, "", `${path}: ${status} ${text.slice(0, 200)}`);
  }
}
