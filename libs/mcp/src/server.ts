import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { type ApiCaller, pathWith, send } from "./api.js";
import { bounded } from "./output.js";

/**
 * Most elements (values, array items, object keys) in one call's arguments. The widest tool takes
 * a handful; anything past this is an attempt to make the server walk a huge structure.
 */
const MAX_ARGUMENT_ELEMENTS = 64;

/** The query service's own bound on a search query's length. */
const MAX_QUERY_CHARS = 16 * 1024;

/** The apply endpoint's own bound on documents. */
const MAX_DOCUMENTS_CHARS = 1024 * 1024;

// Names as Kubernetes and Atoll spell them: no spaces, slashes or control characters, so no
// argument can reach a path or query it was not meant for.
const clusterName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a cluster name: letters, digits, '.', '_' and '-'")
  .describe("the cluster's name, as list_clusters shows it");
const namespaceName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9-]*$/, "a namespace name: lower-case letters, digits and '-'");
const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "an object name: letters, digits, '.', '_', ':' and '-'");
const kindName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z][A-Za-z0-9.]*$/, "a kind as kubectl takes it: Pod, pods, po, deployments.apps");
const language = z.enum(["en", "zh"]).optional().describe("the answer's language (default en)");
const limit = (max: number, fallback: number) =>
  z
    .number()
    .int()
    .min(1)
    .max(max)
    .optional()
    .describe(`how many to return, 1 to ${max} (default ${fallback})`);

const continueToken = z.string().max(4096).optional().describe("the continue token of the previous page");

/** Query parameters a read through the gateway may carry: none of them streams. */
const gatewayQuery = z
  .object({
    labelSelector: z.string().max(1024).optional(),
    fieldSelector: z.string().max(1024).optional(),
    limit: z.number().int().min(1).max(500).optional(),
    continue: z.string().max(4096).optional(),
    container: z.string().max(253).optional(),
    tailLines: z.number().int().min(1).max(1000).optional(),
    previous: z.boolean().optional(),
  })
  .strict()
  .optional()
  .describe("query parameters; watch and follow are not offered, since a tool answer must end");

type Json = Record<string, unknown>;
const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] });

/** What a search result row comes to in a tool answer: where it is and how it is doing, not all of it. */
function summary(item: Json): Json {
  const object = (item.object ?? {}) as {
    metadata?: { creationTimestamp?: string };
    status?: { phase?: unknown; readyReplicas?: unknown; conditions?: { type?: string; status?: string }[] };
    spec?: { replicas?: unknown };
  };
  const phase = typeof object.status?.phase === "string" ? object.status.phase : undefined;
  const replicas =
    typeof object.spec?.replicas === "number"
      ? `${typeof object.status?.readyReplicas === "number" ? object.status.readyReplicas : 0}/${object.spec.replicas} ready`
      : undefined;
  return {
    cluster: item.cluster,
    apiVersion: item.apiVersion,
    kind: item.kind,
    ...(item.namespace ? { namespace: item.namespace } : {}),
    name: item.name,
    ...(phase ? { phase } : {}),
    ...(replicas ? { replicas } : {}),
    ...(object.metadata?.creationTimestamp ? { created: object.metadata.creationTimestamp } : {}),
  };
}

export interface AtollMcpOptions {
  /** Reaches the hub's API as the caller. */
  call: ApiCaller;
  /** Whether the caller holds write anywhere: apply is offered only then (the API still decides). */
  canWrite: boolean;
  version: string;
}

/**
 * The hub's MCP server: its tools read and write through the HTTP API as the caller, so the
 * caller's grants bound every row, count and object they answer with.
 */
export function createAtollMcpServer(options: AtollMcpOptions): McpServer {
  const { call } = options;
  const get = (path: string, query: Record<string, string | number | boolean | undefined> = {}) =>
    send(call, { method: "GET", path: pathWith(path, query) }) as Promise<Json>;
  const server = new McpServer(
    { name: "atoll", version: options.version },
    {
      maxToolInputElements: MAX_ARGUMENT_ELEMENTS,
      instructions:
        "Atoll indexes many Kubernetes clusters. Start with list_clusters or search; search answers with the SQL it " +
        "read the query as, which you can edit and send back with mode sql. Every answer is limited to what the " +
        "caller's token may read.",
    },
  );
  const readOnly = { readOnlyHint: true, openWorldHint: false };

  server.registerTool(
    "search",
    {
      title: "Search the fleet",
      description:
        "Search every cluster's indexed objects. mode keyword takes words and filters (kind:Pod namespace:shop " +
        "status:CrashLoopBackOff); sql takes Atoll's SQL (SELECT * FROM resources WHERE kind = 'Pod' AND ...); nl takes " +
        "a plain question in English or Chinese. The answer holds the SQL the query was read as, the total, one page " +
        "of objects (where they are and how they are doing; get_object gives one whole) and a continue token for the next page.",
      inputSchema: {
        query: z.string().min(1).max(MAX_QUERY_CHARS).describe("the words, SQL or question"),
        mode: z.enum(["keyword", "sql", "nl"]).optional().describe("how to read the query (default keyword)"),
        limit: limit(100, 20),
        continue: continueToken,
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/search", {
        q: args.query,
        mode: args.mode ?? "keyword",
        limit: args.limit ?? 20,
        continue: args.continue,
      });
      const items = ((answer.items ?? []) as Json[]).map(summary);
      return text(
        bounded(
          {
            sql: answer.sql,
            total: answer.total,
            ...(answer.totalIsEstimate ? { totalIsEstimate: true } : {}),
            ...(answer.interpretation ? { interpretation: answer.interpretation } : {}),
            ...(answer.notes ? { notes: answer.notes } : {}),
            ...(answer.aggregations ? { aggregations: answer.aggregations } : {}),
            items,
            continue: answer.continue ?? null,
          },
          { key: "items", narrow: "ask for a lower limit and page with continue" },
        ),
      );
    },
  );

  server.registerTool(
    "get_object",
    {
      title: "Get one object",
      description:
        "One indexed object, whole, as YAML (Secrets' values are redacted as the index stores them). Address it by " +
        "cluster, kind, namespace (empty or left out for cluster-scoped objects) and name.",
      inputSchema: {
        cluster: clusterName,
        kind: kindName,
        namespace: namespaceName.optional(),
        name: objectName,
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/resources", {
        cluster: args.cluster,
        kind: args.kind,
        namespace: args.namespace ?? "",
        name: args.name,
        limit: 1,
      });
      const [found] = (answer.items ?? []) as Json[];
      if (!found)
        throw new Error(
          `no ${args.kind} ${args.namespace ? `${args.namespace}/` : ""}${args.name} in cluster ${args.cluster} that you may read; find it with search`,
        );
      return text(bounded({ cluster: found.cluster, object: found.object }));
    },
  );

  server.registerTool(
    "list_clusters",
    {
      title: "List clusters",
      description:
        "The clusters you may see: mode, readiness, last heartbeat, Kubernetes version, nodes, capacity, labels, " +
        "region, taints, indexed objects, and sync state per resource type.",
      inputSchema: { limit: limit(1000, 200) },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/clusters");
      const clusters = ((answer.items ?? []) as Json[]).map(({ nkey: _nkey, ...cluster }) => cluster);
      const shown = clusters.slice(0, args.limit ?? 200);
      return text(
        bounded(
          {
            total: clusters.length,
            clusters: shown,
            ...(shown.length < clusters.length
              ? { truncated: `${shown.length} of ${clusters.length} clusters shown; raise limit` }
              : {}),
          },
          { key: "clusters", narrow: "search for clusters' objects instead, or lower limit" },
        ),
      );
    },
  );

  server.registerTool(
    "list_issues",
    {
      title: "List findings",
      description:
        "Findings of the audit and the runtime checks (what is wrong, why, how to fix it), filtered by cluster, " +
        "namespace, kind, name, severity and rule; open ones unless state says otherwise.",
      inputSchema: {
        cluster: clusterName.optional(),
        namespace: namespaceName.optional(),
        kind: kindName.optional(),
        name: objectName.optional(),
        severity: z.enum(["critical", "high", "medium", "low"]).optional(),
        rule: z
          .string()
          .max(100)
          .regex(/^[A-Za-z0-9._-]+$/, "a rule id")
          .optional(),
        state: z.enum(["open", "resolved", "all"]).optional(),
        limit: limit(500, 50),
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/insight/issues", { ...args, limit: args.limit ?? 50 });
      return text(
        bounded(
          { items: answer.items ?? [] },
          { key: "items", narrow: "filter by cluster, namespace, severity or rule, or lower limit" },
        ),
      );
    },
  );

  server.registerTool(
    "health",
    {
      title: "Health scores",
      description:
        "Health scores (0 to 100, from open findings by severity) of the fleet, or by cluster or namespace.",
      inputSchema: {
        by: z.enum(["fleet", "cluster", "namespace"]).optional(),
        cluster: clusterName.optional(),
        namespace: namespaceName.optional(),
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/insight/score", { ...args, by: args.by ?? "cluster" });
      return text(bounded(answer, { key: "items", narrow: "filter by cluster or namespace" }));
    },
  );

  server.registerTool(
    "diagnose",
    {
      title: "Diagnose an object",
      description:
        "Why a workload is unhealthy and what to do: its findings, events, related objects and recent logs, read " +
        "by the hub's rules (and its language model when one is set).",
      inputSchema: {
        cluster: clusterName,
        kind: kindName,
        namespace: namespaceName.optional(),
        name: objectName,
        lang: language,
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = (await send(call, {
        method: "POST",
        path: pathWith("/api/v1/insight/ai/diagnose", { ...args, lang: args.lang ?? "en" }),
        body: {},
      })) as Json;
      return text(bounded(answer));
    },
  );

  server.registerTool(
    "topology",
    {
      title: "Topology",
      description:
        "How objects relate (owners, selectors, volumes, network): of a namespace (or cluster) by kind, or around one " +
        "object when kind and name are given.",
      inputSchema: {
        cluster: clusterName,
        namespace: namespaceName.optional(),
        kind: kindName.optional(),
        name: objectName.optional(),
        level: z
          .enum(["kind", "object"])
          .optional()
          .describe("kind groups objects by kind; object shows each"),
        depth: z.number().int().min(1).max(6).optional().describe("hops around the object (default 2)"),
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/insight/topology", { ...args });
      return text(
        bounded(answer, {
          key: "nodes",
          narrow: "address fewer objects (a namespace, a kind, one object), or use level kind",
        }),
      );
    },
  );

  server.registerTool(
    "list_bindings",
    {
      title: "List placements",
      description:
        "Placement bindings: each template, the policy that placed it, and the clusters it went to.",
      inputSchema: { namespace: namespaceName.optional(), limit: limit(500, 100), continue: continueToken },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get("/api/v1/bindings", {
        namespace: args.namespace,
        limit: args.limit ?? 100,
        continue: args.continue,
      });
      return text(
        bounded(
          { items: answer.items ?? [], continue: answer.continue ?? null },
          { key: "items", narrow: "ask for a lower limit, filter by namespace, and page with continue" },
        ),
      );
    },
  );

  server.registerTool(
    "explain_binding",
    {
      title: "Explain a placement",
      description:
        "One binding: where its template went and with how many replicas, why each other cluster was not chosen, " +
        "and the status and health of its copy on each cluster.",
      inputSchema: { namespace: namespaceName, name: objectName },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get(
        `/api/v1/bindings/${encodeURIComponent(args.namespace)}/${encodeURIComponent(args.name)}`,
      );
      return text(bounded(answer));
    },
  );

  server.registerTool(
    "gateway_get",
    {
      title: "Read from a cluster, live",
      description:
        "A GET to one member cluster's Kubernetes API through the hub's gateway, as you (needs proxy-read): " +
        "the live state, where the index may lag a few seconds. path is the API path, e.g. " +
        "/api/v1/namespaces/shop/pods or /api/v1/namespaces/shop/pods/web-1/log.",
      inputSchema: {
        cluster: clusterName,
        path: z
          .string()
          .max(1024)
          .regex(
            /^\/(api|apis)(\/[A-Za-z0-9][A-Za-z0-9._:-]*)*$/,
            "a Kubernetes API path such as /api/v1/namespaces/shop/pods, with no query (pass query instead)",
          ),
        query: gatewayQuery,
      },
      annotations: readOnly,
    },
    async (args) => {
      const answer = await get(`/proxy/clusters/${encodeURIComponent(args.cluster)}${args.path}`, {
        ...args.query,
      });
      if (typeof answer === "string") return text(bounded({ text: answer }));
      return text(
        bounded(answer, { key: "items", narrow: "ask for fewer with query.limit and page with continue" }),
      );
    },
  );

  server.registerTool(
    "whoami",
    {
      title: "Who am I",
      description: "The token's name, role and grants: what these tools may read and write.",
      inputSchema: {},
      annotations: readOnly,
    },
    async () => text(bounded(await get("/api/v1/whoami"))),
  );

  if (options.canWrite)
    server.registerTool(
      "apply",
      {
        title: "Apply to the fleet",
        description:
          "Stores templates and Karmada policies (YAML, several documents) for the hub to place across clusters, as " +
          "`atoll apply` does; your grants decide which namespaces and clusters they may reach.",
        inputSchema: {
          documents: z.string().min(1).max(MAX_DOCUMENTS_CHARS).describe("the YAML documents"),
          namespace: namespaceName.optional().describe("for documents that name none (default: default)"),
        },
        annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
      },
      async (args) => {
        const answer = (await send(call, {
          method: "POST",
          path: pathWith("/api/v1/apply", { namespace: args.namespace }),
          body: { documents: args.documents },
        })) as Json;
        return text(bounded(answer));
      },
    );

  return server;
}
