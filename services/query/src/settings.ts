import { readFileSync } from "node:fs";
import { readPrompts } from "@atoll/ai";
import { ConfigError, commonConfig, envFlag, loadConfig, parseSecretKey, z } from "@atoll/config";
import { readInsightConfig } from "@atoll/insight";
import { OpenSearchClient, searchOpenSearch } from "@atoll/opensearch";
import type { QueryAppOptions } from "./app.js";

/** The query service's settings, from the environment. */
export function readQuerySettings() {
  return loadConfig({
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
}
export type QuerySettings = ReturnType<typeof readQuerySettings>;

/**
 * What the settings ask of the app, files read and combinations checked: TLS, the search back end,
 * sign-in, AI, insight relations and the gateway. Clients and parts the main makes are added there.
 */
export function appOptionsFrom(
  config: QuerySettings,
): Omit<QueryAppOptions, "db" | "sql" | "logger" | "checkBus" | "changes" | "registry" | "bus"> {
  if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE))
    throw new ConfigError("set both TLS_CERT_FILE and TLS_KEY_FILE to serve HTTPS, or neither");
  if (config.SEARCH_BACKEND === "opensearch" && !config.OPENSEARCH_URL)
    throw new ConfigError(
      "SEARCH_BACKEND=opensearch needs OPENSEARCH_URL, the cluster the indexer mirrors into",
    );
  const secretKey = secretKeyOf(config);
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
  return {
    ...(openSearch ? { search: (query, page) => searchOpenSearch(openSearch, query, page) } : {}),
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
    staleAfterSeconds: config.ATOLL_CLUSTER_GRACE_SECONDS,
    allowNoExecuteTaintPolicy: config.ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY,
  };
}

/** The key that seals push-mode kubeconfigs, when one is set. */
export const secretKeyOf = (config: QuerySettings) =>
  config.ATOLL_SECRET_KEY ? parseSecretKey(config.ATOLL_SECRET_KEY) : undefined;
