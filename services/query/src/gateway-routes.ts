import { createHash, randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Bus } from "@atoll/bus";
import { openSecret, z } from "@atoll/config";
import { BusProxyClient, Gateway, type GatewayCluster } from "@atoll/gateway";
import { KubeClient, statusResponseText } from "@atoll/kube";
import type { Logger } from "@atoll/log";
import { gatewayCluster, recordGatewayWrite, searchGatewayAudit } from "@atoll/store";
import type { FastifyInstance } from "fastify";
import type postgres from "postgres";
import { type Authenticate, demand } from "./auth.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { badRequest, HttpProblem, parseBody } from "./problem.js";

export interface GatewaySettings {
  /** Opens the kubeconfigs of push clusters, which the hub then dials itself. */
  secretKey?: Buffer;
  bodyLimitBytes?: number;
  timeoutMs?: number;
}

/**
 * How the gateway reaches each cluster: directly with its opened kubeconfig when the hub holds one
 * and can open it, through its agent otherwise. Clients are kept while the credential is unchanged.
 */
function clusterLookup(sql: postgres.Sql, secretKey: Buffer | undefined) {
  const clients = new Map<string, { fingerprint: string; client: KubeClient }>();
  return async (name: string): Promise<GatewayCluster | undefined> => {
    const record = await gatewayCluster(sql, name);
    if (!record) return undefined;
    const settings = { name, impersonate: record.impersonate, readOnly: record.readOnly };
    if (!record.kubeconfigSealed || !secretKey) return settings;
    const fingerprint = createHash("sha256")
      .update(record.kubeconfigSealed + record.kubeContext)
      .digest("hex");
    let entry = clients.get(name);
    if (entry?.fingerprint !== fingerprint) {
      const kubeconfig = openSecret(secretKey, record.kubeconfigSealed);
      entry = { fingerprint, client: KubeClient.fromKubeconfig(kubeconfig, record.kubeContext || undefined) };
      clients.set(name, entry);
    }
    return { ...settings, client: entry.client };
  };
}

const auditQuery = z
  .object({
    user: z.string().optional(),
    cluster: z.string().optional(),
    verb: z.string().optional(),
    namespace: z.string().optional(),
    resource: z.string().optional(),
    outcome: z.enum(["failed", "succeeded"]).optional(),
    since: z.coerce.date().optional(),
    until: z.coerce.date().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    continue: z.string().optional(),
  })
  .strict();

/**
 * /proxy/clusters/<name>/...: the live gateway, every verb, streamed both ways; and the audit
 * log of its writes at /api/v1/gateway/audit.
 */
export function createGateway(options: {
  sql: postgres.Sql;
  bus?: Bus;
  logger: Logger;
  settings: GatewaySettings;
}): Gateway {
  return new Gateway({
    findCluster: clusterLookup(options.sql, options.settings.secretKey),
    ...(options.bus ? { bus: new BusProxyClient(options.bus) } : {}),
    audit: (entry) => recordGatewayWrite(options.sql, entry),
    logger: options.logger,
    ...(options.settings.bodyLimitBytes ? { bodyLimitBytes: options.settings.bodyLimitBytes } : {}),
    ...(options.settings.timeoutMs ? { timeoutMs: options.settings.timeoutMs } : {}),
  });
}

export function gatewayRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  options: { sql: postgres.Sql; authenticate: Authenticate },
): void {
  // The body is the member cluster's business: it streams through unparsed.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null));
    scope.all("/proxy/clusters/:cluster/*", async (request, reply) => {
      reply.hijack();
      await gateway.handle(request.raw, reply.raw, request.principal, request.id);
    });
  });

  // exec, attach and port-forward arrive as upgrades, which never reach Fastify's routes.
  app.server.on("upgrade", (req, socket, head) => {
    // Nothing else listens on an upgraded socket; a reset must not take the service down.
    socket.on("error", () => socket.destroy());
    const refuse = (code: number, message: string) =>
      socket.end(statusResponseText(code, STATUS_CODES[code] ?? "Error", message));
    if (!req.url?.startsWith("/proxy/clusters/")) return refuse(404, `no upgrade is served at ${req.url}`);
    // The hub names each request itself: audit records must not carry an id a caller chose.
    const requestId = randomUUID();
    options
      .authenticate(req.headers.authorization)
      .then((principal) => gateway.upgrade(req, socket, head, principal, requestId))
      .catch((error: unknown) =>
        error instanceof HttpProblem
          ? refuse(error.status, error.message)
          : refuse(500, (error as Error).message),
      );
  });

  app.get("/api/v1/gateway/audit", async (request) => {
    demand(request, "admin");
    const { continue: token, ...filter } = parseBody(auditQuery, request.query);
    // The token holds the id the next page starts below.
    const cursor = token ? decodeCursor(token) : undefined;
    if (cursor && !("offset" in cursor))
      throw badRequest(
        "INVALID_CONTINUE",
        "the continue token is not one this endpoint issued; start again without it",
      );
    const beforeId = cursor?.offset;
    const items = await searchGatewayAudit(options.sql, { ...filter, ...(beforeId ? { beforeId } : {}) });
    const last = items.at(-1);
    return {
      items,
      continue: items.length === filter.limit && last ? encodeCursor({ offset: last.id }) : null,
    };
  });
}
