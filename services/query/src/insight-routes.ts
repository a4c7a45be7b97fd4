import { can, visibleRows } from "@atoll/access";
import {
  type AnswerEvent,
  answer,
  type ChatModelConfig,
  diagnoseTask,
  explainTask,
  type IssueLike,
  interpretTask,
  type Language,
  type Prompts,
  promptPreview,
  type Task,
} from "@atoll/ai";
import type { Gateway } from "@atoll/gateway";
import {
  buildTopology,
  type CustomRelation,
  kindGraph,
  neighbourhood,
  type Obj,
  REFERRING_KINDS,
  SEVERITIES,
  type TopologyInput,
} from "@atoll/insight";
import { readYamlOffLoop } from "@atoll/kube";
import { conditionSql, nameCondition, parseDuration, resolveKind } from "@atoll/search";
import {
  aboutObjects,
  type Database,
  eventsAbout,
  type GroupKey,
  getGroupRule,
  healthScores,
  insightSummary,
  listIssues,
  namespaceNeighbourhood,
  objectScoreHistory,
  objectsByUid,
  objectsWhere,
  readGroupKey,
  recordedScores,
  resourceGroups,
  SCORE_GROUPINGS,
  type ScoreGrouping,
  topologyRows,
} from "@atoll/store";
import { and, type SQL } from "drizzle-orm";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { addressed, type Query } from "./address.js";
import { badRequest, HttpProblem } from "./problem.js";

/**
 * Objects a topology may read before the caller is asked to narrow it: an object-level answer is
 * returned whole, a kind-level one is only counted.
 */
const MAX_TOPOLOGY_OBJECTS = { object: 20_000, kind: 250_000 };

export interface InsightRouteOptions {
  /** Relations for custom resources, from ATOLL_INSIGHT_CONFIG. */
  relations?: CustomRelation[];
  /** Writes the AI answers; without it the rules answer, labelled as such. */
  languageModel?: ChatModelConfig;
  /** The operator's own prompts (ATOLL_AI_PROMPTS). */
  aiPrompts?: Prompts;
  /** Reads recent logs for a diagnosis, as the caller could through the gateway. */
  gateway?: Gateway;
}

const LANGUAGES = ["en", "zh"];
/** How much of each container's log a diagnosis reads. */
const LOG_LINES = 50;

/** The objects a request addresses, within the caller's grants, as a condition on the index. */
function addressedSql(request: FastifyRequest): SQL | undefined {
  const scope = addressed(request);
  return scope && conditionSql(scope);
}

/** Rows of another table about the objects a request addresses. */
const aboutAddressed = (request: FastifyRequest): SQL => aboutObjects(addressedSql(request));

/**
 * Group keys: a column, an object's label or annotation value (label:team), or a property of the
 * object's cluster from the registry (region, zone, provider, cluster-label:env), for views of the
 * fleet by region or environment.
 */
export function groupKey(by: string): GroupKey {
  const key = readGroupKey(by);
  if (key) return key;
  throw badRequest(
    "INVALID_GROUPING",
    `group by cluster, namespace, kind, label:<key>, annotation:<key>, region, zone, provider or cluster-label:<key>, got "${by}"`,
  );
}

/**
 * Insight over the index, always within the caller's grants and addressed by cluster, namespace,
 * kind, name and labelSelector: issues, health scores, topology, summaries, event timelines and
 * resource groups.
 */
const ISSUE_STATES = ["open", "resolved", "all"];

/** The most keys one grouping may combine. */
const MAX_GROUP_KEYS = 4;

/** How far back score history reaches: as long as the scheduler keeps metric snapshots. */
const HISTORY_DAYS = 30;

export function insightRoutes(app: FastifyInstance, db: Database, options: InsightRouteOptions = {}): void {
  const issues = async (request: FastifyRequest) => {
    const q = request.query as Query;
    if (q.severity && !(SEVERITIES as readonly string[]).includes(q.severity))
      throw badRequest(
        "INVALID_SEVERITY",
        `severity must be one of ${SEVERITIES.join(", ")}, got "${q.severity}"`,
      );
    if (q.state !== undefined && !ISSUE_STATES.includes(q.state))
      throw badRequest("INVALID_STATE", `state must be one of ${ISSUE_STATES.join(", ")}, got "${q.state}"`);
    const grants = visibleRows(request.principal);
    const items = await listIssues(db, {
      cluster: q.cluster,
      namespace: q.namespace,
      kind: q.kind,
      rule: q.rule,
      severity: q.severity,
      state: (q.state ?? "open") as "open" | "resolved" | "all",
      // Names (with * wildcards) match the issues table's own; label selectors need the objects.
      within: [
        ...(grants ? [conditionSql(grants)] : []),
        ...(q.name ? [conditionSql(nameCondition(q.name))] : []),
        ...(q.labelSelector ? [aboutAddressed(request)] : []),
      ],
      limit: Math.min(Math.max(Number(q.limit ?? 500) || 500, 1), 5000),
    });
    return { items };
  };
  app.get("/api/v1/issues", issues);
  app.get("/api/v1/insight/issues", issues);

  const score = async (request: FastifyRequest) => {
    const q = request.query as Query;
    const by = q.by ?? (request.url.startsWith("/api/v1/health") ? "cluster" : "fleet");
    if (!(SCORE_GROUPINGS as string[]).includes(by))
      throw badRequest("INVALID_GROUPING", `by must be one of ${SCORE_GROUPINGS.join(", ")}, got "${by}"`);
    return { by, items: await healthScores(db, by as ScoreGrouping, aboutAddressed(request)) };
  };
  app.get("/api/v1/health", score);
  app.get("/api/v1/insight/score", score);

  /**
   * Health scores over time. A cluster's and a namespace's come from the snapshots the scheduler
   * records every minute; one object's is exact, from when each of its findings opened and closed.
   */
  app.get("/api/v1/insight/score/history", async (request) => {
    const q = request.query as Query & { by?: string; since?: string; until?: string; step?: string };
    const by = q.by ?? (q.name ? "object" : q.namespace ? "namespace" : "cluster");
    if (!["cluster", "namespace", "object"].includes(by))
      throw badRequest("INVALID_GROUPING", `by must be cluster, namespace or object, got "${by}"`);
    const duration = (name: string, text: string | undefined, fallback: number) => {
      if (text === undefined) return fallback;
      try {
        return parseDuration(text);
      } catch {
        throw badRequest(
          "INVALID_DURATION",
          `${name} must be a duration such as 30m, 24h or 7d, got "${text}"`,
        );
      }
    };
    const sinceSeconds = duration("since", q.since, 24 * 3600);
    if (sinceSeconds > HISTORY_DAYS * 86_400)
      throw badRequest(
        "INVALID_DURATION",
        `since reaches back at most ${HISTORY_DAYS}d, as long as snapshots are kept`,
      );
    const stepSeconds = Math.max(60, duration("step", q.step, Math.ceil(sinceSeconds / 60)));
    const principal = request.principal;
    const readsWhole = (cluster: string, namespace = "*") =>
      can(principal, "read", { cluster, namespace, kind: "*" });
    if (by === "object") {
      if (!q.cluster || !q.namespace || !q.kind || !q.name)
        throw badRequest("MISSING_OBJECT", "an object's history needs cluster, namespace, kind and name");
      const kind = resolveKind(q.kind);
      if (!can(principal, "read", { cluster: q.cluster, namespace: q.namespace, kind }))
        throw new HttpProblem(
          404,
          "NOT_FOUND",
          "Not found",
          `no ${kind} ${q.namespace}/${q.name} in cluster ${q.cluster} that you may read`,
        );
      const object = { cluster: q.cluster, namespace: q.namespace, kind, name: q.name };
      const points = await objectScoreHistory(db, object, { sinceSeconds, stepSeconds });
      return {
        by,
        stepSeconds,
        items: [{ ...object, points }],
      };
    }
    const points = await recordedScores(db, by as "cluster" | "namespace", {
      sinceSeconds,
      stepSeconds,
      cluster: q.cluster,
      namespace: by === "namespace" ? q.namespace : undefined,
    });
    const series = new Map<
      string,
      { cluster: string; namespace?: string; points: { time: string; score: number }[] }
    >();
    for (const point of points) {
      // A mean over objects the caller may not all read would tell of them: only whole scopes count.
      if (!readsWhole(point.cluster, by === "namespace" ? point.namespace : "*")) continue;
      const key = `${point.cluster}/${point.namespace}`;
      if (!series.has(key))
        series.set(key, {
          cluster: point.cluster,
          ...(by === "namespace" ? { namespace: point.namespace } : {}),
          points: [],
        });
      series.get(key)!.points.push({ time: point.time, score: point.score });
    }
    return { by, stepSeconds, items: [...series.values()] };
  });

  /** The topology a request addresses: one object's neighbourhood, or the addressed objects. */
  const topologyOf = async (request: FastifyRequest, overrides: Query = {}) => {
    const q = { ...(request.query as Query), ...overrides };
    if (!q.cluster)
      throw badRequest("CLUSTER_REQUIRED", "topology is drawn within one cluster; pass cluster=<name>");
    const depth = Math.min(Math.max(Number(q.depth ?? 2) || 2, 1), 6);
    const level = q.level ?? (q.name ? "object" : "kind");
    if (level !== "object" && level !== "kind")
      throw badRequest("INVALID_LEVEL", `level must be object or kind, got "${level}"`);
    const grants = visibleRows(request.principal);
    // One object's neighbourhood lies in its namespace and the cluster-scoped objects around it;
    // otherwise the addressed objects themselves. Only kinds that refer to others are read whole.
    const root = q.kind && q.name && !q.name.includes("*");
    const scope = root
      ? and(namespaceNeighbourhood(q.cluster, q.namespace ?? ""), grants && conditionSql(grants))!
      : addressedSql(request)!;
    // Built-in relations read only the spec (and owners, which the row has); a custom relation's
    // path may lead anywhere, so its kinds come whole.
    const found = await topologyRows(db, scope, {
      specOf: REFERRING_KINDS,
      wholeOf: (options.relations ?? []).map((r) => r.kind),
      limit: MAX_TOPOLOGY_OBJECTS[level] + 1,
    });
    const rows: TopologyInput[] = found.map(({ spec, object, ...row }) => ({
      ...row,
      ownerReferences: row.ownerReferences as Obj[],
      ...(object
        ? { object }
        : spec
          ? {
              object: {
                kind: row.kind,
                metadata: { namespace: row.namespace, name: row.name, ownerReferences: row.ownerReferences },
                spec,
              },
            }
          : {}),
    }));
    if (rows.length > MAX_TOPOLOGY_OBJECTS[level])
      throw new HttpProblem(
        413,
        "TOPOLOGY_TOO_LARGE",
        "Topology too large",
        `more than ${MAX_TOPOLOGY_OBJECTS[level]} objects are addressed; narrow it with namespace, kind, name or labelSelector${level === "object" ? ", or ask for level=kind" : ""}`,
      );
    const topology = buildTopology(rows, options.relations);
    if (root) {
      const kind = resolveKind(q.kind!);
      const resolved = rows.find(
        (r) => r.name === q.name && r.kind === kind && r.namespace === (q.namespace ?? ""),
      );
      if (!resolved)
        throw new HttpProblem(
          404,
          "NOT_FOUND",
          "Not found",
          `no ${q.kind} ${q.namespace ? `${q.namespace}/` : ""}${q.name} in cluster ${q.cluster} that you may read`,
        );
      return { level, root: resolved, topology: neighbourhood(topology, resolved.uid, depth) };
    }
    return { level, topology };
  };

  app.get("/api/v1/insight/topology", async (request) => {
    const { level, root, topology } = await topologyOf(request);
    const answer = level === "kind" ? kindGraph(topology) : topology;
    return { level, ...(root ? { root: root.uid } : {}), ...answer };
  });

  app.get("/api/v1/insight/summary", async (request) => {
    return insightSummary(db, aboutAddressed(request));
  });

  /** Events about the addressed objects, newest first, among the events the caller may read. */
  const eventsOf = (request: FastifyRequest, limit: number) => {
    const grants = visibleRows(request.principal);
    return eventsAbout(db, addressedSql(request), grants && conditionSql(grants), limit);
  };

  app.get("/api/v1/insight/events", async (request) => {
    const q = request.query as Query;
    return { items: await eventsOf(request, Math.min(Math.max(Number(q.limit ?? 200) || 200, 1), 2000)) };
  });

  app.get("/api/v1/insight/groups", async (request) => {
    const q = request.query as Query & { rule?: string };
    let by = q.by ?? "namespace";
    if (q.rule) {
      const rule = await getGroupRule(db.$client, q.rule);
      if (!rule)
        throw new HttpProblem(
          404,
          "NOT_FOUND",
          "Not found",
          `no group rule "${q.rule}"; list them at GET /api/v1/insight/group-rules`,
        );
      by = rule.keys.join(",");
    }
    const keys = by.split(",").map((k) => groupKey(k.trim()));
    if (keys.length > MAX_GROUP_KEYS)
      throw badRequest("INVALID_GROUPING", `group by at most ${MAX_GROUP_KEYS} keys, got ${keys.length}`);
    const items = await resourceGroups(db, keys, addressedSql(request));
    return { by, ...(q.rule ? { rule: q.rule } : {}), items };
  });

  /** The one object an AI request is about, within the caller's grants. */
  /**
   * The last lines of the workload's pods (the pod itself, or up to three pods around it), read
   * live through the gateway within the caller's proxy grants; nothing when it cannot reach them.
   */
  const recentLogs = async (
    request: FastifyRequest,
    workload: Obj,
    related: Obj[],
  ): Promise<string | undefined> => {
    const { gateway } = options;
    const cluster = (request.query as Query).cluster;
    if (!gateway || !cluster) return undefined;
    const pods = (workload.kind === "Pod" ? [workload] : related.filter((o) => o.kind === "Pod")).slice(0, 3);
    const parts = await Promise.all(
      pods.flatMap((pod) =>
        ((pod.spec?.containers ?? []) as { name: string }[]).slice(0, 2).map(async (container) => {
          const path = `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}/log?container=${encodeURIComponent(container.name)}&tailLines=${LOG_LINES}`;
          const text = await gateway.readAsCaller(request.principal, cluster, path, {
            maxBytes: 16 * 1024,
            timeoutMs: 5000,
          });
          return text ? `--- ${pod.metadata.name} / ${container.name}\n${text.trimEnd()}` : undefined;
        }),
      ),
    );
    const found = parts.filter((p): p is string => p !== undefined);
    return found.length ? found.join("\n") : undefined;
  };

  const addressedObject = async (request: FastifyRequest): Promise<Obj> => {
    const q = request.query as Query;
    if (!q.cluster || !q.kind || !q.name)
      throw badRequest("OBJECT_REQUIRED", "address one object with cluster, kind, name (and namespace)");
    const found = await objectsWhere(db, addressedSql(request)!, 2);
    if (found.length !== 1)
      throw new HttpProblem(
        404,
        "NOT_FOUND",
        "Not found",
        `no single ${q.kind} ${q.namespace ? `${q.namespace}/` : ""}${q.name} in cluster ${q.cluster} that you may read`,
      );
    return found[0] as Obj;
  };

  const tasks: Record<string, (request: FastifyRequest) => Promise<Task>> = {
    explain: async (request) => {
      const body = (request.body ?? {}) as { issues?: IssueLike[] };
      if (Array.isArray(body.issues)) return explainTask(body.issues);
      const found = (await issues(request)).items as unknown as IssueLike[];
      return explainTask(found);
    },
    interpret: async (request) => {
      const body = (request.body ?? {}) as { object?: Obj; yaml?: string };
      if (body.object && typeof body.object === "object") return interpretTask(body.object);
      if (typeof body.yaml === "string") {
        let object: unknown;
        try {
          object = await readYamlOffLoop(body.yaml);
        } catch (error) {
          throw badRequest("INVALID_YAML", `the yaml field was not read: ${(error as Error).message}`);
        }
        if (!object || typeof object !== "object" || !("kind" in object))
          throw badRequest("INVALID_YAML", "the yaml field must hold one Kubernetes object, with a kind");
        return interpretTask(object as Obj);
      }
      return interpretTask(await addressedObject(request));
    },
    diagnose: async (request) => {
      const workload = await addressedObject(request);
      const events = (await eventsOf(request, 50)).map((e) => ({
        kind: "Event",
        type: e.type,
        reason: e.reason,
        message: e.message,
        count: e.count,
        lastTimestamp: e.time,
        involvedObject: { kind: e.kind, namespace: e.namespace, name: e.name },
      }));
      // A Deployment's and a CronJob's pods are their grandchildren (through a ReplicaSet or a Job):
      // their failures are usually the workload's.
      const depth = ["Deployment", "CronJob"].includes(workload.kind) ? "2" : "1";
      const { topology } = await topologyOf(request, { depth, level: "object" });
      const near = topology.nodes.filter((n) => n.uid !== workload.metadata?.uid).slice(0, 50);
      const related = (await objectsByUid(
        db,
        near[0]?.cluster ?? "",
        near.map((n) => n.uid),
      )) as Obj[];
      return diagnoseTask(workload, events, related, await recentLogs(request, workload, related));
    },
  };

  /**
   * POST /api/v1/insight/ai/{explain,interpret,diagnose}?lang=en|zh: answers stream as server-sent
   * events (text, then done) when the client accepts text/event-stream, and come whole as JSON
   * otherwise. A missing or failing model never fails the request: the rules answer instead.
   * With prompt=only nothing is sent: the answer is the masked prompt a model would get.
   */
  app.post("/api/v1/insight/ai/:feature", async (request, reply) => {
    const { feature } = request.params as { feature: string };
    const makeTask = tasks[feature];
    if (!makeTask)
      throw new HttpProblem(
        404,
        "NOT_FOUND",
        "Not found",
        `no AI feature "${feature}"; use explain, interpret or diagnose`,
      );
    const q = request.query as Query;
    const language = (q.lang ?? (request.body as { lang?: string } | undefined)?.lang ?? "en") as Language;
    if (!LANGUAGES.includes(language))
      throw badRequest("INVALID_LANGUAGE", `lang must be one of ${LANGUAGES.join(", ")}, got "${language}"`);
    if (q.prompt !== undefined && q.prompt !== "only")
      throw badRequest("INVALID_PROMPT", `prompt takes one value, "only", got "${q.prompt}"`);
    const task = await makeTask(request);
    if (q.prompt === "only") return { feature, ...promptPreview(task, language, options.aiPrompts) };
    const events = answer(task, {
      ...(options.aiPrompts ? { prompts: options.aiPrompts } : {}),
      ...(options.languageModel ? { model: options.languageModel } : {}),
      language,
    });
    if (!(request.headers.accept ?? "").includes("text/event-stream")) {
      let text = "";
      let outcome: Omit<Extract<AnswerEvent, { type: "done" }>, "type"> | undefined;
      for await (const event of events) {
        if (event.type === "text") text += event.text;
        else {
          const { type: _done, ...rest } = event;
          outcome = rest;
        }
      }
      return { feature, answer: text, ...outcome };
    }
    reply.hijack();
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    for await (const event of events) {
      if (reply.raw.destroyed) break;
      const { type, ...data } = event;
      reply.raw.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    }
    reply.raw.end();
  });
}
