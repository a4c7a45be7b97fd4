/** The query service's HTTP API as OpenAPI 3.1, served at /openapi.json. */

const problem = { $ref: "#/components/responses/Problem" };
const errors = { "400": problem, "401": problem, "403": problem, "404": problem, "503": problem };
const json = (schema: Record<string, unknown>, description = "OK") => ({
  description,
  content: { "application/json": { schema } },
});
const query = (name: string, description: string, schema: Record<string, unknown> = { type: "string" }) => ({
  name,
  in: "query",
  description,
  schema,
});
const pathParam = (name: string, description: string) => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});
const body = (schema: Record<string, unknown>) => ({
  required: true,
  content: { "application/json": { schema } },
});
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const grant = {
  type: "object",
  required: ["verbs"],
  properties: {
    verbs: { type: "array", items: { enum: ["read", "admin", "write", "proxy-read", "proxy-write", "*"] } },
    clusters: { type: "array", items: { type: "string" }, description: 'names, or "*" (the default)' },
    namespaces: { type: "array", items: { type: "string" }, description: 'names, or "*" (the default)' },
    kinds: { type: "array", items: { type: "string" }, description: 'kinds or resource names, or "*"' },
  },
};

const kubePath = (description: string) => ({
  get: {
    summary: description,
    description:
      "A read-only Kubernetes API over the index for kubectl: discovery, get, list with label and field selectors, limit and continue, Table output, and watch (?watch=1).",
    parameters: [
      query("labelSelector", "Kubernetes label selector"),
      query("fieldSelector", "field selector on any JSON path"),
      query("limit", "page size", { type: "integer" }),
      query("continue", "token from the previous page"),
      query("watch", "stream changes", { type: "boolean" }),
      query("resourceVersion", "watch from this change"),
    ],
    responses: { "200": { description: "Kubernetes JSON (a List, an object, a Table or watch events)" } },
  },
});

/** The live gateway: every verb goes to the member cluster, so each is described the same way. */
const gatewayOperation = (method: string) => ({
  summary: `${method} through the live gateway to one member cluster`,
  description:
    "Any Kubernetes API path of the cluster, as the caller (impersonated), within the caller's proxy-read / proxy-write grants. Push clusters are dialled directly; pull clusters are reached through their agent over NATS. exec, attach and port-forward arrive as connection upgrades, spliced for push clusters and relayed by the agent over NATS for pull clusters. Errors are Kubernetes Status objects: 400 malformed path, 403 refused, 404 unknown cluster, 413 body too large, 503 cluster or agent unreachable, 504 timeout.",
  parameters: [
    pathParam("cluster", "registered cluster name"),
    pathParam("path", "Kubernetes API path, e.g. api/v1/pods"),
  ],
  responses: { "200": { description: "The member cluster's own answer, streamed" } },
});

/** How insight endpoints address objects: the same filters as the resource list. */
const address = [
  query("cluster", "cluster name"),
  query("namespace", "namespace"),
  query("kind", "kind, as kubectl spells it"),
  query("name", "name; * is a wildcard"),
  query("labelSelector", "a Kubernetes label selector"),
];

const issuesPath = {
  get: {
    summary: "What the audit and diagnosis rules found, open by default, within the caller's grants",
    parameters: [
      ...address,
      query("rule", "rule id"),
      query("severity", "info, low, medium, high or critical"),
      query("state", "open (default), resolved or all"),
      query("limit", "at most this many (1-5000)", { type: "integer" }),
    ],
    responses: { "200": json({ type: "object" }), ...errors },
  },
};

const scorePath = (byDefault: string) => ({
  get: {
    summary: "Health scores from open issues, for the fleet or per cluster, namespace, kind or object",
    parameters: [
      ...address,
      query("by", "fleet, cluster, namespace, kind or object", { default: byDefault }),
    ],
    responses: { "200": json({ type: "object" }), ...errors },
  },
});

export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Atoll query API",
    version: "1",
    description:
      "Search, the cluster registry and access control for an Atoll hub. Every error is an RFC 9457 problem document with a stable code.",
  },
  security: [{ bearer: [] }],
  paths: {
    "/healthz": {
      get: { summary: "Liveness", security: [], responses: { "200": json({ type: "object" }) } },
    },
    "/readyz": {
      get: {
        summary: "Readiness of Postgres and NATS",
        security: [],
        responses: {
          "200": json({ type: "object" }),
          "503": json({ type: "object" }, "Not ready, with the reason"),
        },
      },
    },
    "/openapi.json": {
      get: { summary: "This document", security: [], responses: { "200": json({ type: "object" }) } },
    },
    "/api/v1/search": {
      get: {
        summary: "Search every cluster by keyword, SQL or plain language",
        parameters: [
          query("q", "the query text"),
          query("mode", "how q is written", { enum: ["keyword", "sql", "nl"], default: "keyword" }),
          query("limit", "rows per page (1-1000)", { type: "integer", default: 100 }),
          query("continue", "token from the previous page"),
          query("format", "json or yaml (a kubectl List), or custom-columns=HEADER:.path,..."),
        ],
        responses: { "200": json(ref("SearchPage")), ...errors },
      },
    },
    "/api/v1/resources": {
      get: {
        summary: "List indexed objects by cluster, kind, namespace, name and labels",
        parameters: [
          query("cluster", "cluster name"),
          query("kind", "kind, resource name or short name"),
          query("namespace", "namespace"),
          query("name", "name, * wildcards allowed"),
          query("labelSelector", "Kubernetes label selector"),
          query("q", "free words"),
          query("limit", "rows per page (1-1000)", { type: "integer" }),
          query("continue", "token from the previous page"),
        ],
        responses: { "200": json(ref("SearchPage")), ...errors },
      },
    },
    "/api/v1/clusters": {
      get: {
        summary: "Clusters the caller may see, with status",
        responses: { "200": json({ type: "object" }), ...errors },
      },
      post: {
        summary: "Register a push or pull cluster (admin)",
        requestBody: body({ type: "object", required: ["mode"] }),
        responses: { "201": json({ type: "object" }, "Registered"), "409": problem, ...errors },
      },
    },
    "/api/v1/clusters/{name}": {
      patch: {
        summary: "Change a cluster's labels, region, zone, provider, taints or sync rules (admin)",
        parameters: [pathParam("name", "cluster name")],
        requestBody: body({ type: "object" }),
        responses: { "200": json({ type: "object" }), ...errors },
      },
      delete: {
        summary: "Stop syncing a cluster and purge its rows (admin)",
        parameters: [pathParam("name", "cluster name")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/mcp": {
      post: {
        summary:
          "The MCP server (streamable HTTP, stateless): JSON-RPC messages from an MCP client; every tool runs as the caller",
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: { "200": json({ type: "object" }, "The JSON-RPC answer"), ...errors },
      },
      get: { summary: "Not served: the endpoint is stateless", responses: { ...errors } },
      delete: { summary: "Not served: the endpoint is stateless", responses: { ...errors } },
    },
    "/api/v1/whoami": {
      get: {
        summary: "The caller's identity and grants",
        responses: { "200": json(ref("Principal")), ...errors },
      },
    },
    "/api/v1/roles": {
      get: {
        summary: "Roles and their grants (admin)",
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/roles/{name}": {
      put: {
        summary: "Create or replace a role (admin)",
        parameters: [pathParam("name", "role name")],
        requestBody: body({ type: "object", properties: { grants: { type: "array", items: grant } } }),
        responses: { "200": json({ type: "object" }), ...errors },
      },
      delete: {
        summary: "Delete a role no live token holds (admin)",
        parameters: [pathParam("name", "role name")],
        responses: { "200": json({ type: "object" }), "409": problem, ...errors },
      },
    },
    "/api/v1/tokens": {
      get: {
        summary: "Tokens, without their secrets (admin)",
        responses: { "200": json({ type: "object" }), ...errors },
      },
      post: {
        summary: "Create a token; its secret is shown only in this answer (admin)",
        requestBody: body({
          type: "object",
          required: ["name", "role"],
          properties: {
            name: { type: "string" },
            role: { type: "string" },
            expiresIn: { type: "string", examples: ["30d"] },
          },
        }),
        responses: { "201": json({ type: "object" }, "Created"), ...errors },
      },
    },
    "/api/v1/tokens/{id}": {
      delete: {
        summary: "Revoke a token (admin)",
        parameters: [pathParam("id", "token id")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/apply": {
      post: {
        summary: "Apply Karmada policies and resource templates (multi-document YAML); answers what changed",
        parameters: [query("namespace", "for documents without one", { default: "default" })],
        requestBody: { required: true, content: { "application/yaml": { schema: { type: "string" } } } },
        responses: { "200": json({ type: "object" }), "422": problem, ...errors },
      },
    },
    "/api/v1/delete": {
      post: {
        summary: "Delete the policies and templates in the documents; deleted templates leave every cluster",
        parameters: [query("namespace", "for documents without one", { default: "default" })],
        requestBody: { required: true, content: { "application/yaml": { schema: { type: "string" } } } },
        responses: { "200": json({ type: "object" }), "422": problem, ...errors },
      },
    },
    "/api/v1/bindings": {
      get: {
        summary:
          "Where each template went, and why: a page of the bindings the caller may read, in order of namespace and name ({items, continue}; a page may hold fewer than limit, and continue is null after the last)",
        parameters: [
          query("namespace", "only this namespace's bindings"),
          query("limit", "bindings per page (1-1000)", { type: "integer", default: 100 }),
          query("continue", "token from the previous page"),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/bindings/{namespace}/{name}": {
      get: {
        summary:
          "One binding: the decision, the reason for each rejected cluster, works, status per cluster (clusterStatus: placed, applied, reachable, health Healthy|Unhealthy|Unknown and why), readiness summed over the clusters the hub hears from (readiness.unknownClusters names the rest)",
        parameters: [pathParam("namespace", "binding namespace"), pathParam("name", "binding name")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/issues": issuesPath,
    "/api/v1/insight/issues": issuesPath,
    "/api/v1/health": scorePath("cluster"),
    "/api/v1/insight/score": scorePath("fleet"),
    "/api/v1/insight/score/history": {
      get: {
        summary:
          "Health scores over time: by cluster or namespace from the minute snapshots, or one object's exactly from its findings; scopes you may not read whole are left out",
        parameters: [
          query(
            "by",
            "cluster, namespace or object (default: object with a name, namespace with a namespace, else cluster)",
          ),
          query("cluster", "one cluster"),
          query("namespace", "one namespace"),
          query("kind", "the object's kind (by=object)"),
          query("name", "the object's name (by=object)"),
          query("since", "how far back: a duration such as 24h (default) or 7d, at most 30d"),
          query("step", "one point per this duration (default: since/60, at least 1m)"),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/topology": {
      get: {
        summary:
          "Topology from the index: one object's neighbourhood (kind and name given) or the addressed objects, as objects or kinds",
        parameters: [
          ...address,
          query("depth", "edges from the object (1-6)", { type: "integer", default: 2 }),
          query("level", "object or kind (default: object with a name, kind otherwise)"),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/summary": {
      get: {
        summary:
          "Objects by kind, open issues by severity, the score and the top rules of the addressed objects",
        parameters: address,
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/events": {
      get: {
        summary: "Events about the addressed objects, newest first, with series counted",
        parameters: [...address, query("limit", "at most this many (1-2000)", { type: "integer" })],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/groups": {
      get: {
        summary: "Resource groups: objects, open issues by severity and a score per group",
        parameters: [
          ...address,
          query(
            "by",
            "cluster, namespace, kind, label:<key> or annotation:<key> of the objects, or region, zone, provider or cluster-label:<key> of their clusters; up to 4, comma-separated, for one group per combination",
            { default: "namespace" },
          ),
          query("rule", "a saved group rule's name, instead of by"),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/ai/{feature}": {
      post: {
        summary:
          "AI answers (explain, interpret, diagnose): masked before they reach the model, streamed as server-sent events with Accept: text/event-stream, and answered by the rules when no model is configured or it fails",
        parameters: [
          pathParam("feature", "explain, interpret or diagnose"),
          ...address,
          query("lang", "en (default) or zh"),
          query(
            "prompt",
            "only: send nothing, answer with the masked messages a model would get and the placeholders that unmask them",
          ),
        ],
        requestBody: {
          required: false,
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  issues: { type: "array", items: { type: "object" }, description: "findings to explain" },
                  object: { type: "object", description: "an object to interpret" },
                  yaml: { type: "string", description: "an object to interpret, as YAML" },
                },
              },
            },
          },
        },
        responses: {
          "200": {
            description:
              "The answer, whole as JSON or as server-sent events (text, then done); with prompt=only, {feature, messages, placeholders, masked}",
            content: {
              "application/json": { schema: { type: "object" } },
              "text/event-stream": { schema: { type: "string" } },
            },
          },
          ...errors,
        },
      },
    },
    "/api/v1/gateway/audit": {
      get: {
        summary:
          "Writes through the gateway, and refused writes: who, cluster, verb, path, code, time (admin)",
        parameters: [
          query("user", "token name"),
          query("cluster", "cluster name"),
          query("verb", "create, update, patch, delete, deletecollection, ..."),
          query("namespace", "namespace"),
          query("resource", "resource, e.g. deployments or pods/exec"),
          query("outcome", "failed (code >= 400) or succeeded"),
          query("since", "ISO time"),
          query("until", "ISO time"),
          query("limit", "page size, 1 to 1000", { type: "integer" }),
          query("continue", "token from the previous page"),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/group-rules": {
      get: {
        summary: "Saved resource-group rules: a name and the keys objects are grouped by",
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/insight/group-rules/{name}": {
      get: {
        summary: "One group rule; browse its groups at GET /api/v1/insight/groups?rule=NAME",
        parameters: [pathParam("name", "the rule's name")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
      put: {
        summary:
          "Create or replace a group rule (admin of every cluster): keys such as label:app and label:env",
        parameters: [pathParam("name", "the rule's name: lowercase letters, digits and -")],
        requestBody: body({
          type: "object",
          required: ["keys"],
          properties: { keys: { type: "array", items: { type: "string" } }, description: { type: "string" } },
        }),
        responses: {
          "200": json({ type: "object" }, "Replaced"),
          "201": json({ type: "object" }, "Created"),
          ...errors,
        },
      },
      delete: {
        summary: "Delete a group rule (admin of every cluster)",
        parameters: [pathParam("name", "the rule's name")],
        responses: { "204": { description: "Deleted" }, ...errors },
      },
    },
    "/api/v1/dead-letters": {
      get: {
        summary:
          "Messages a consumer gave up on, with the reason, and each consumer's count (admin of every cluster)",
        parameters: [
          query("consumer", "consumer, e.g. indexer-prod-1 or scheduler"),
          query("after", "list dead letters after this sequence", { type: "integer" }),
          query("limit", "page size, 1 to 500", { type: "integer" }),
        ],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/dead-letters/{seq}": {
      get: {
        summary:
          "One dead letter: reason, original subject, and the message decoded (admin of every cluster)",
        parameters: [pathParam("seq", "the dead letter's sequence")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/api/v1/dead-letters/{seq}/replay": {
      post: {
        summary: "Publishes a dead letter again where it first went, and removes it (admin of every cluster)",
        parameters: [pathParam("seq", "the dead letter's sequence")],
        responses: { "200": json({ type: "object" }), ...errors },
      },
    },
    "/proxy/clusters/{cluster}/{path}": Object.fromEntries(
      ["get", "post", "put", "patch", "delete"].map((m) => [m, gatewayOperation(m.toUpperCase())]),
    ),
    "/k8s/all/{path}": kubePath("Every cluster's objects, as one Kubernetes API"),
    "/k8s/clusters/{cluster}/{path}": kubePath("One cluster's objects, as a Kubernetes API"),
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "a token from `atoll token create`" },
    },
    responses: {
      Problem: {
        description: "An error",
        content: { "application/problem+json": { schema: ref("Problem") } },
      },
    },
    schemas: {
      Problem: {
        type: "object",
        required: ["type", "title", "status", "code", "detail"],
        properties: {
          type: { type: "string" },
          title: { type: "string" },
          status: { type: "integer" },
          code: { type: "string", description: "stable, machine-readable" },
          detail: { type: "string", description: "what went wrong and what to do" },
          instance: { type: "string" },
          position: { type: "integer", description: "1-based position in the query text" },
          hint: { type: "string" },
        },
      },
      SearchItem: {
        type: "object",
        properties: {
          cluster: { type: "string" },
          apiVersion: { type: "string" },
          kind: { type: "string" },
          namespace: { type: "string" },
          name: { type: "string" },
          uid: { type: "string" },
          object: { type: "object" },
        },
      },
      SearchPage: {
        type: "object",
        properties: {
          items: { type: "array", items: ref("SearchItem") },
          aggregations: { type: "array", items: { type: "object" } },
          total: { type: "integer" },
          totalIsEstimate: { type: "boolean" },
          continue: { type: ["string", "null"] },
          sql: { type: "string", description: "the query in Atoll's SQL, to read and edit" },
          interpretation: {
            type: "object",
            description:
              "how a plain-language question was understood: engine (rules or model), searched (words no rule explains that the fleet holds, searched as text), ignored (words left out), warning",
          },
          notes: {
            type: "array",
            items: { type: "string" },
            description: "why an empty answer may be a mistake: a kind no object you may read has",
          },
        },
      },
      Principal: {
        type: "object",
        properties: {
          name: { type: "string" },
          role: { type: "string" },
          grants: { type: "array", items: grant },
        },
      },
    },
  },
} as const;
