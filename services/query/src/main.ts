#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { readPrompts } from "@atoll/ai";
import { Bus } from "@atoll/bus";
import { ConfigError, commonConfig, envFlag, loadConfig, onShutdown, parseSecretKey, z } from "@atoll/config";
import { readInsightConfig } from "@atoll/insight";
import { createLogger } from "@atoll/log";
import { OpenSearchClient, searchOpenSearch } from "@atoll/opensearch";
import { agentNatsUrlFrom, ClusterRegistry, serveSyncRules } from "@atoll/registry";
import { ChangeFeed, openDatabase, SEARCH_SESSION } from "@atoll/store";
import { buildQueryApp } from "./app.js";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Seals push-mode kubeconfigs; push registration is refused without it. */
  ATOLL_SECRET_KEY: z.string().optional(),
  /** NATS URL written into pull-mode agent manifests, as member clusters reach it. */
  ATOLL_AGENT_NATS_URL: z.string().optional(),
  ATOLL_AGENT_IMAGE: z.string().default("ghcr.io/atoll-dev/agent:0.1.0"),
  /** postgres (default) or opensearch: where /api/v1/search runs; the kube API always reads Postgres. */
  SEARCH_BACKEND: z.enum(["postgres", "opensearch"]).default("postgres"),
  OPENSEARCH_URL: z.url().optional(),
  OPENSEARCH_USERNAME: z.string().optional(),
  OPENSEARCH_PASSWORD: z.string().optional(),
  OPENSEARCH_INDEX_PREFIX: z.string().default(""),
  /** Acts as the built-in admin role: for bootstrapping, before any token exists. */
  ATOLL_ADMIN_TOKEN: z.string().min(16, "use at least 16 characters").optional(),
  /** The role of requests without a token; unset (the default) refuses them. */
  ATOLL_ANONYMOUS_ROLE: z.string().optional(),
  /** PEM files to serve HTTPS; kubectl sends bearer tokens only over TLS. */
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  /** An OpenAI-compatible endpoint for questions the built-in rules cannot translate; optional. */
  ATOLL_LLM_BASE_URL: z.url().optional(),
  ATOLL_LLM_MODEL: z.string().default("gpt-4o-mini"),
  ATOLL_LLM_API_KEY: z.string().optional(),
  ATOLL_LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** The indexer's rule file; the query service reads its topology relations for custom resources. */
  ATOLL_INSIGHT_CONFIG: z.string().optional(),
  /** A YAML file of the operator's own AI prompts: system, explain, interpret, diagnose. */
  ATOLL_AI_PROMPTS: z.string().optional(),
  /** As for the scheduler: a cluster silent this long is offline, and bindings show it as Unknown. */
  ATOLL_CLUSTER_GRACE_SECONDS: z.coerce.number().int().positive().default(30),
  /** Karmada's --allow-no-execute-taint-policy: a ClusterTaintPolicy may add NoExecute taints (which evict only where the scheduler has ATOLL_NO_EXECUTE_EVICTION). */
  ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY: envFlag(),
  /** Largest request body the gateway passes on (pull mode is also held to one NATS message). */
  ATOLL_GATEWAY_BODY_LIMIT: z.coerce
    .number()
    .int()
    .positive()
    .default(3 * 1024 * 1024),
  /** How long a gateway request may take, watches, followed logs and exec aside. */
  ATOLL_GATEWAY_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
});
const logger = createLogger({ service: "query", level: config.LOG_LEVEL });
/** How long shutdown lets requests in flight finish before it cuts long-lived streams. */
const STREAM_GRACE_MS = 1_000;

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger, sessionSettings: SEARCH_SESSION });
const bus = await Bus.connectHub(config, "query", logger);

// 3. Parts.
const secretKey = config.ATOLL_SECRET_KEY ? parseSecretKey(config.ATOLL_SECRET_KEY) : undefined;
const registry = new ClusterRegistry({
  sql: database.sql,
  bus,
  ...(secretKey ? { secretKey } : {}),
  agentNatsUrl: config.ATOLL_AGENT_NATS_URL ?? agentNatsUrlFrom(config.NATS_URL),
  agentImage: config.ATOLL_AGENT_IMAGE,
});
const rulesResponder = serveSyncRules(bus, database.sql, logger);
const changes = new ChangeFeed(database.sql, { logger });
await changes.start();
const indexed = bus.nc.subscribe(bus.names.indexed(), { callback: () => changes.wake() });
if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE))
  throw new ConfigError("set both TLS_CERT_FILE and TLS_KEY_FILE to serve HTTPS, or neither");
if (!config.ATOLL_ADMIN_TOKEN && !config.ATOLL_ANONYMOUS_ROLE)
  logger.warn("no ATOLL_ADMIN_TOKEN is set: only tokens already in the database can call the API");
if (config.SEARCH_BACKEND === "opensearch" && !config.OPENSEARCH_URL)
  throw new ConfigError(
    "SEARCH_BACKEND=opensearch needs OPENSEARCH_URL, the cluster the indexer mirrors into",
  );
const openSearch =
  config.SEARCH_BACKEND === "opensearch" && config.OPENSEARCH_URL
    ? new OpenSearchClient({
        url: config.OPENSEARCH_URL,
        prefix: config.OPENSEARCH_INDEX_PREFIX,
        ...(config.OPENSEARCH_USERNAME
          ? { username: config.OPENSEARCH_USERNAME, password: config.OPENSEARCH_PASSWORD ?? "" }
          : {}),
      })
    : undefined;
const app = buildQueryApp({
  registry,
  bus,
  ...(openSearch ? { search: (query, page) => searchOpenSearch(openSearch, query, page) } : {}),
  changes,
  auth: {
    ...(config.ATOLL_ADMIN_TOKEN ? { adminToken: config.ATOLL_ADMIN_TOKEN } : {}),
    ...(config.ATOLL_ANONYMOUS_ROLE ? { anonymousRole: config.ATOLL_ANONYMOUS_ROLE } : {}),
  },
  ...(config.TLS_CERT_FILE && config.TLS_KEY_FILE
    ? { tls: { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) } }
    : {}),
  ...(config.ATOLL_AI_PROMPTS ? { aiPrompts: readPrompts(config.ATOLL_AI_PROMPTS) } : {}),
  ...(config.ATOLL_INSIGHT_CONFIG
    ? { relations: readInsightConfig(config.ATOLL_INSIGHT_CONFIG).relations ?? [] }
    : {}),
  ...(config.ATOLL_LLM_BASE_URL
    ? {
        languageModel: {
          baseUrl: config.ATOLL_LLM_BASE_URL,
          model: config.ATOLL_LLM_MODEL,
          timeoutMs: config.ATOLL_LLM_TIMEOUT_MS,
          ...(config.ATOLL_LLM_API_KEY ? { apiKey: config.ATOLL_LLM_API_KEY } : {}),
        },
      }
    : {}),
  gateway: {
    ...(secretKey ? { secretKey } : {}),
    bodyLimitBytes: config.ATOLL_GATEWAY_BODY_LIMIT,
    timeoutMs: config.ATOLL_GATEWAY_TIMEOUT_MS,
  },
  db: database.db,
  sql: database.sql,
  staleAfterSeconds: config.ATOLL_CLUSTER_GRACE_SECONDS,
  allowNoExecuteTaintPolicy: config.ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY,
  logger,
  checkBus: async () => {
    await bus.nc.flush();
  },
});

// 4. Start.
const address = await app.listen({ host: config.HOST, port: config.PORT });
logger.info({ address }, "query service listening");

// 5. Stop.
onShutdown(logger, async () => {
  rulesResponder.stop();
  indexed.unsubscribe();
  changes.stop();
  // Watches and followed streams never finish by themselves; after a moment for requests in
  // flight, they are cut, and their clients re-establish them against another replica.
  const cutStreams = setTimeout(() => app.server.closeAllConnections(), STREAM_GRACE_MS);
  await app.close();
  clearTimeout(cutStreams);
  await bus.close();
  await database.close();
});
