import { randomUUID } from "node:crypto";
import {
  can,
  type Principal,
  reachesCluster,
  seesWholeCluster,
  visibleClusters,
  visibleRows,
} from "@atoll/access";
import type { Prompts } from "@atoll/ai";
import type { Bus } from "@atoll/bus";
import type { CustomRelation } from "@atoll/insight";
import type { Logger } from "@atoll/log";
import type { ClusterRegistry } from "@atoll/registry";
import {
  and,
  answerNaturalQuestion,
  type Condition,
  column,
  conditionSql,
  imageName,
  type LanguageModelConfig,
  type NaturalContext,
  parseKeywordQuery,
  parseSqlQuery,
  type SearchPage,
  searchPostgres,
  toSqlText,
  unfamiliarKinds,
} from "@atoll/search";
import {
  type ChangeFeed,
  type Database,
  fleetVocabulary,
  listClusters,
  objectCountsByCluster,
  ping,
  type VocabularyRow,
} from "@atoll/store";

import Fastify, { type FastifyBaseLogger, type FastifyRequest } from "fastify";
import type postgres from "postgres";
import { accessRoutes } from "./access-routes.js";
import { addressed, type Query, within } from "./address.js";
import { type AuthOptions, authentication } from "./auth.js";
import { cachedFor } from "./cache.js";
import { consoleRoutes } from "./console-routes.js";
import { decodeCursor, encodeCursor, parseLimit } from "./cursor.js";
import { deadLetterRoutes } from "./dead-letter-routes.js";
import { createGateway, type GatewaySettings, gatewayRoutes } from "./gateway-routes.js";
import { groupRuleRoutes } from "./group-rule-routes.js";
import { insightRoutes } from "./insight-routes.js";
import { kubeRoutes } from "./kube-routes.js";
import { mcpRoutes } from "./mcp-routes.js";
import { formatted } from "./objects.js";
import { OPENAPI_DOCUMENT } from "./openapi.js";
import { placementRoutes } from "./placement-routes.js";
import { badRequest, HttpProblem, problemOf } from "./problem.js";
import { registryRoutes } from "./registry-routes.js";

export type SearchBackend = (
  query: Parameters<typeof searchPostgres>[1],
  page: Parameters<typeof searchPostgres>[2],
) => Promise<SearchPage>;

export interface QueryAppOptions {
  db: Database;
  sql: postgres.Sql;
  logger: Logger;
  /** Readiness probe for the bus; throws when NATS is not reachable. */
  checkBus: () => Promise<void>;
  /** A cluster counts as online if it sent a heartbeat within this many seconds. */
  staleAfterSeconds?: number;
  /** Karmada's --allow-no-execute-taint-policy: ClusterTaintPolicies may add NoExecute taints. */
  allowNoExecuteTaintPolicy?: boolean;
  /** Serves the registry's write endpoints when given. */
  registry?: ClusterRegistry;
  /** Answers /api/v1/search from another back end (OpenSearch); Postgres otherwise. */
  search?: SearchBackend;
  /** Serves apply and bindings when given: the placement control plane publishes on it. */
  bus?: Bus;
  /** The index's change history, which watches read. */
  changes: ChangeFeed;
  /** Serves HTTPS with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** Bootstrap admin token and anonymous access; with neither, only created tokens get in. */
  auth?: AuthOptions;
  /** Topology relations for custom resources. */
  relations?: CustomRelation[];
  /** Translates natural-language questions the built-in rules cannot. */
  languageModel?: LanguageModelConfig;
  /** The operator's own prompts for the AI answers. */
  aiPrompts?: Prompts;
  /** How the live gateway reaches clusters; push clusters need the secret key. */
  gateway?: GatewaySettings;
}

const MAX_QUERY_CHARS = 16 * 1024;

export function buildQueryApp(options: QueryAppOptions) {
  // Our pino and Fastify's bundled pino types differ only in version; the logger is the same shape.
  // The HTTPS and HTTP instances differ only in their server type; routes see the same interface.
  const app = Fastify({
    ...(options.tls ? { https: options.tls } : {}),
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    // Request ids name audit records, so the hub makes them; a caller's X-Request-Id is never taken.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });

  app.setErrorHandler((error, request, reply) => {
    const problem = problemOf(error);
    if (problem.status >= 500) request.log.error({ err: error }, "request failed");
    void reply.status(problem.status).type("application/problem+json").send(problem.toJSON(request.url));
  });

  app.setNotFoundHandler((request, reply) => {
    const problem = new HttpProblem(
      404,
      "NOT_FOUND",
      "Not found",
      `no endpoint ${request.method} ${request.url.split("?")[0]}; every endpoint is described at /openapi.json`,
    );
    void reply.status(404).type("application/problem+json").send(problem.toJSON(request.url));
  });

  // Every route, so a test can hold the OpenAPI description to what is actually served.
  const routes: { method: string; url: string }[] = [];
  app.decorate("registeredRoutes", routes);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat())
      if (method !== "HEAD") routes.push({ method, url: route.url });
  });
  app.get("/openapi.json", async () => OPENAPI_DOCUMENT);

  const authenticate = authentication(app, options.sql, options.auth ?? {});
  accessRoutes(app, options.sql);

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      ping(options.sql).then(
        () => (checks.postgres = "ok"),
        (error: Error) => (checks.postgres = error.message),
      ),
      options.checkBus().then(
        () => (checks.nats = "ok"),
        (error: Error) => (checks.nats = error.message),
      ),
    ]);
    const ready = Object.values(checks).every((v) => v === "ok");
    return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });

  app.get("/api/v1/clusters", async (request) => {
    const all = await listClusters(options.sql, options.staleAfterSeconds ?? 30);
    const rows = visibleRows(request.principal);
    if (!rows) return { items: all };
    // A partial view counts only the objects it may see, and hides heartbeat totals.
    const counts = await objectCountsByCluster(options.db, conditionSql(rows));
    const clusters = visibleClusters(request.principal);
    // A cluster reachable through the gateway is listed too, though none of its rows may be read.
    return {
      items: all
        .filter(
          (c) => clusters === "all" || clusters.includes(c.name) || reachesCluster(request.principal, c.name),
        )
        .map((c) =>
          seesWholeCluster(request.principal, c.name)
            ? c
            : { ...c, objects: counts.get(c.name) ?? 0, status: {} },
        ),
    };
  });

  if (options.registry) registryRoutes(app, options.registry);
  const gateway = createGateway({
    sql: options.sql,
    ...(options.bus ? { bus: options.bus } : {}),
    logger: options.logger,
    settings: options.gateway ?? {},
  });
  gatewayRoutes(app, gateway, { sql: options.sql, authenticate });
  if (options.bus) deadLetterRoutes(app, options.bus);
  groupRuleRoutes(app, options.sql);
  if (options.bus)
    placementRoutes(app, options.sql, options.bus, options.staleAfterSeconds ?? 30, {
      allowNoExecuteTaintPolicy: options.allowNoExecuteTaintPolicy ?? false,
      ...(options.gateway?.secretKey ? { secretKey: options.gateway.secretKey } : {}),
    });
  kubeRoutes(app, options.db, within, { sql: options.sql, feed: options.changes });
  insightRoutes(app, options.db, {
    gateway,
    ...(options.relations ? { relations: options.relations } : {}),
    ...(options.languageModel ? { languageModel: options.languageModel } : {}),
    ...(options.aiPrompts ? { aiPrompts: options.aiPrompts } : {}),
  });

  mcpRoutes(app);
  consoleRoutes(app);

  app.get("/api/v1/resources", async (request) => {
    const query = request.query as Query;
    const scope = addressed(request);
    const where = query.q ? and([...(scope ? [scope] : []), { type: "text", words: [query.q] }]) : scope;
    const page = await searchPostgres(
      options.db,
      { ...(where ? { where } : {}), orderBy: [] },
      { limit: parseLimit(query.limit), ...(query.continue ? { after: decodeCursor(query.continue) } : {}) },
    );
    return { items: page.items, continue: page.next ? encodeCursor(page.next) : null };
  });

  const search: SearchBackend = options.search ?? ((query, page) => searchPostgres(options.db, query, page));
  const clusterNames = cachedFor(10_000, async () =>
    (await listClusters(options.sql, options.staleAfterSeconds ?? 30)).map((c) => c.name),
  );
  /**
   * The fleet's vocabulary by where each word was seen, so an asker's grants are checked once a
   * place rather than once a word; image names are reduced to how people say them as it is read.
   */
  const vocabulary = cachedFor(30_000, async () => {
    const places = new Map<
      string,
      { where: { cluster: string; namespace?: string }; rows: VocabularyRow[] }
    >();
    for (const row of await fleetVocabulary(options.sql)) {
      const key = `${row.cluster}/${row.namespace}`;
      let place = places.get(key);
      if (!place) {
        const where = row.namespace
          ? { cluster: row.cluster, namespace: row.namespace }
          : { cluster: row.cluster };
        place = { where, rows: [] };
        places.set(key, place);
      }
      place.rows.push(row.sort === "image" ? { ...row, value: imageName(row.value) } : row);
    }
    return [...places.values()];
  });

  /**
   * The fleet's words a question may use (clusters, namespaces, nodes, label values, images, status reasons), as
   * far as the asker can see them: how a word was read shows in the answer's SQL, so it must not
   * tell of names out of sight.
   */
  async function vocabularyFor(principal: Principal): Promise<NaturalContext> {
    const namespaces = new Set<string>();
    const nodes = new Set<string>();
    const images = new Set<string>();
    const reasons = new Set<string>();
    const labels: Record<string, Set<string>> = {};
    for (const { where, rows } of await vocabulary()) {
      // A Namespace object is seen in the namespace it names, so one check serves every sort.
      if (!can(principal, "read", where)) continue;
      for (const row of rows) {
        if (row.sort === "namespace") namespaces.add(row.value);
        else if (row.sort === "node") nodes.add(row.value);
        else if (row.sort === "image") images.add(row.value);
        else if (row.sort === "reason") reasons.add(row.value);
        else {
          labels[row.key] ??= new Set();
          labels[row.key]!.add(row.value);
        }
      }
    }
    for (const grant of principal.grants)
      for (const namespace of grant.namespaces) if (namespace !== "*") namespaces.add(namespace);
    return {
      clusters: (await clusterNames()).filter((cluster) => can(principal, "read", { cluster })),
      // With no Namespace objects indexed (sync rules may leave them out), any name may be one.
      ...(namespaces.size > 0 ? { namespaces: [...namespaces] } : {}),
      nodes: [...nodes],
      images: [...images],
      reasons: [...reasons],
      labels: Object.fromEntries(Object.entries(labels).map(([key, values]) => [key, [...values]])),
    };
  }

  /** The query a search request asks for, and how a natural-language question was understood. */
  async function understand(mode: string, text: string, request: FastifyRequest) {
    // Parsing runs on the event loop in time that grows with the text; no question needs more.
    if (text.length > MAX_QUERY_CHARS)
      throw badRequest(
        "QUERY_TOO_LONG",
        `the query has ${text.length} characters, more than the ${MAX_QUERY_CHARS} allowed; split it into several queries`,
      );
    if (mode === "keyword") return { parsed: parseKeywordQuery(text) };
    if (mode === "sql") return { parsed: parseSqlQuery(text) };
    if (mode !== "nl") throw badRequest("INVALID_MODE", `mode must be keyword, sql or nl, got "${mode}"`);
    const answer = await answerNaturalQuestion(text, {
      context: await vocabularyFor(request.principal),
      // The same search, within the same grants, that the word would run as a filter.
      indexHolds: async (word) =>
        (
          await search(
            { where: and([{ type: "text", words: [word] }, ...within(request)])!, orderBy: [] },
            { limit: 1 },
          )
        ).items.length > 0,
      ...(options.languageModel ? { model: options.languageModel } : {}),
    });
    if (answer.warning) options.logger.warn({ warning: answer.warning }, "language model fallback");
    return {
      parsed: answer.query,
      interpretation: {
        engine: answer.engine,
        searched: answer.searched,
        ignored: answer.ignored,
        ...(answer.warning ? { warning: answer.warning } : {}),
      },
    };
  }

  app.get("/api/v1/search", async (request, reply) => {
    const query = request.query as Query;
    const { parsed, interpretation } = await understand(query.mode ?? "keyword", query.q ?? "", request);
    const where = and([...(parsed.where ? [parsed.where] : []), ...within(request)]);
    const page = await search(
      { ...parsed, ...(where ? { where } : {}) },
      {
        limit: parseLimit(query.limit),
        withTotal: true,
        ...(query.continue ? { after: decodeCursor(query.continue) } : {}),
      },
    );
    const next = page.next ? encodeCursor(page.next) : null;
    const notes = page.total === 0 ? await kindNotes(parsed.where, request) : [];
    // A word the reader did not know but the fleet holds becomes a text filter; when nothing matches, say which.
    if (page.total === 0 && interpretation?.searched.length)
      notes.push(
        `nothing matched, and these words were not understood, so they were searched for as text: ${interpretation.searched.join(", ")}; rephrase them or ask in SQL (mode=sql)`,
      );
    // A word neither the reader nor the fleet knows is left out rather than allowed to empty the answer.
    if (interpretation?.ignored.length)
      notes.push(
        `these words were not understood and no object you can see holds them, so they were left out: ${interpretation.ignored.join(", ")}; rephrase them or ask in SQL (mode=sql)`,
      );
    if (query.format && query.format !== "api") {
      if (page.aggregations)
        throw badRequest("INVALID_FORMAT", "COUNT(*) answers come only as the API's JSON; drop format");
      const { type, body } = formatted(query.format, page.items, next);
      return reply.type(type).send(body);
    }
    return {
      items: page.items,
      ...(page.aggregations ? { aggregations: page.aggregations } : {}),
      total: page.total,
      totalIsEstimate: page.totalIsEstimate,
      continue: next,
      sql: toSqlText(parsed),
      ...(interpretation ? { interpretation } : {}),
      ...(notes.length > 0 ? { notes } : {}),
    };
  });

  /**
   * Why an empty answer may be a misspelling: a kind Kubernetes does not build in of which the
   * caller can see no object at all.
   */
  async function kindNotes(where: Condition | undefined, request: FastifyRequest): Promise<string[]> {
    const notes: string[] = [];
    for (const kind of unfamiliarKinds(where)) {
      const kindWhere = and([
        { type: "compare", field: column("kind"), op: "=", value: kind },
        ...within(request),
      ]);
      const seen = await search({ ...(kindWhere ? { where: kindWhere } : {}), orderBy: [] }, { limit: 1 });
      if (seen.items.length === 0)
        notes.push(
          `no object of kind "${kind}" is indexed where you may read: it is not a built-in kind; check its spelling, or that its CRD's objects are synced`,
        );
    }
    return notes;
  }

  return app;
}
