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
  SEVERITY_WEIGHT,
  type TopologyInput,
} from "@atoll/insight";
import { readYamlOffLoop } from "@atoll/kube";
import { conditionSql, nameCondition, parseDuration, resolveKind } from "@atoll/search";
import {
  type Database,
  getGroupRule,
  ISO_TIME_FORMAT,
  isoText,
  listIssues,
  severityWeight,
} from "@atoll/store";
import { type SQL, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { addressed, type Query } from "./address.js";
import { badRequest, HttpProblem } from "./problem.js";

/** Orders issues worst first. */
const WEIGHT = severityWeight(SEVERITY_WEIGHT);

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

/** `(cluster, uid) in (...)`: rows of another table about the objects a request addresses. */
function aboutAddressed(request: FastifyRequest): SQL {
  const scope = addressed(request);
  return scope
    ? sql`(cluster, uid) in (select cluster, uid from resources where ${conditionSql(scope)})`
    : sql`true`;
}

/**
 * Group keys: a column, an object's label or annotation value (label:team), or a property of the
 * object's cluster from the registry (region, zone, provider, cluster-label:env), for views of the
 * fleet by region or environment.
 */
export function groupKey(by: string): SQL {
  const match = /^(label|annotation|cluster-label):(.+)$/.exec(by);
  if (match?.[1] === "cluster-label") return sql`c.labels ->> ${match[2]}`;
  if (match) return sql`r.${sql.raw(match[1] === "label" ? "labels" : "annotations")} ->> ${match[2]}`;
  if (by === "cluster" || by === "namespace" || by === "kind") return sql`r.${sql.raw(by)}`;
  if (by === "region" || by === "zone" || by === "provider") return sql`nullif(c.${sql.raw(by)}, '')`;
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
      severityWeights: SEVERITY_WEIGHT,
      limit: Math.min(Math.max(Number(q.limit ?? 500) || 500, 1), 5000),
    });
    return { items };
  };
  app.get("/api/v1/issues", issues);
  app.get("/api/v1/insight/issues", issues);

  const score = async (request: FastifyRequest) => {
    const q = request.query as Query;
    const by = q.by ?? (request.url.startsWith("/api/v1/health") ? "cluster" : "fleet");
    const groups: Record<string, SQL | undefined> = {
      fleet: undefined,
      cluster: sql`cluster`,
      namespace: sql`cluster, namespace`,
      kind: sql`kind`,
      object: sql`cluster, namespace, kind, name, uid`,
    };
    if (!(by in groups))
      throw badRequest(
        "INVALID_GROUPING",
        `by must be one of ${Object.keys(groups).join(", ")}, got "${by}"`,
      );
    const group = groups[by];
    // resource_health holds each object's score (see migration 0011); a group scores their mean.
    const items = await db.execute(sql`
      select ${group ? sql`${group},` : sql``} count(*)::int as objects,
        (count(*) filter (where open_issues > 0))::int as "objectsWithIssues",
        sum(open_issues)::int as "openIssues", round(avg(score)::numeric, 2)::float as score
      from resource_health where ${aboutAddressed(request)}
      ${group ? sql`group by ${group} order by score, ${group}` : sql``}
      limit 5000`);
    return { by, items };
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
      const points = await db.execute(sql`
        select ${isoText(sql.raw("b.t"))} as time, count(i.rule)::int as "openIssues",
          (100 * exp(-0.04 * count(i.rule) - 0.06 * coalesce(sum(${WEIGHT}), 0)))::float as score
        from generate_series(now() - make_interval(secs => ${sinceSeconds}), now(), make_interval(secs => ${stepSeconds})) b(t)
        left join issues i on i.cluster = ${q.cluster} and i.namespace = ${q.namespace} and i.kind = ${kind}
          and i.name = ${q.name} and i.first_seen <= b.t and (i.resolved_at is null or i.resolved_at > b.t)
        group by b.t order by b.t`);
      return {
        by,
        stepSeconds,
        items: [{ cluster: q.cluster, namespace: q.namespace, kind, name: q.name, points }],
      };
    }
    const metric = by === "cluster" ? "cluster_health" : "health";
    const points = (await db.execute(sql`
      select cluster, namespace,
        to_char(date_bin(make_interval(secs => ${stepSeconds}), time, timestamptz 'epoch') at time zone 'UTC', ${ISO_TIME_FORMAT}) as time,
        round(avg(value)::numeric, 2)::float as score
      from metric_snapshots
      where metric = ${metric} and time > now() - make_interval(secs => ${sinceSeconds})
        ${q.cluster ? sql`and cluster = ${q.cluster}` : sql``}
        ${by === "namespace" && q.namespace ? sql`and namespace = ${q.namespace}` : sql``}
      group by 1, 2, 3 order by 1, 2, 3
      limit 100000`)) as unknown as { cluster: string; namespace: string; time: string; score: number }[];
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
      ? sql`cluster = ${q.cluster} and (namespace = ${q.namespace ?? ""} or namespace = '')
          and ${grants ? conditionSql(grants) : sql`true`}`
      : conditionSql(addressed(request)!);
    // Built-in relations read only the spec (and owners, which the row has); a custom relation's
    // path may lead anywhere, so its kinds come whole.
    const kinds = (list: string[]) =>
      sql.join(
        list.map((k) => sql`${k}`),
        sql`, `,
      );
    const customKinds = (options.relations ?? []).map((r) => r.kind);
    const rows = (
      (await db.execute(sql`
      select cluster, uid, kind, namespace, name, labels, owner_refs as "ownerReferences",
        case when kind in (${kinds(REFERRING_KINDS)}) then object->'spec' end as spec,
        ${customKinds.length ? sql`case when kind in (${kinds(customKinds)}) then object - 'status' end` : sql`null`} as object
      from resources where ${scope}
      limit ${MAX_TOPOLOGY_OBJECTS[level] + 1}`)) as unknown as (TopologyInput & { spec?: Obj })[]
    ).map(({ spec, object, ...row }) => ({
      ...row,
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
    const about = aboutAddressed(request);
    const [kinds, severities, health, rules] = await Promise.all([
      db.execute(
        sql`select kind, count(*)::int as objects from resource_health where ${about} group by kind order by objects desc`,
      ),
      db.execute(sql`select severity, count(*)::int as issues from issues where resolved_at is null and ${about}
        group by severity order by ${WEIGHT} desc`),
      db.execute(sql`select count(*)::int as objects, round(coalesce(avg(score), 100)::numeric, 2)::float as score
        from resource_health where ${about}`),
      db.execute(sql`select rule, severity, count(*)::int as objects from issues where resolved_at is null and ${about}
        group by rule, severity order by ${WEIGHT} desc, objects desc limit 10`),
    ]);
    return { ...health[0], kinds, issuesBySeverity: severities, topRules: rules };
  });

  /** Events about the addressed objects, newest first. */
  const eventsOf = async (request: FastifyRequest, limit: number) => {
    const scope = addressed(request);
    const grants = visibleRows(request.principal);
    // Events name what they are about by kind, namespace and name (involvedObject, or regarding in
    // events.k8s.io/v1), and usually by uid, which tells a recreated object from its predecessor;
    // a recurring event counts its series.
    const items = await db.execute(sql`
      with targets as (select cluster, uid, kind, namespace, name from resources where ${scope ? conditionSql(scope) : sql`true`} and kind <> 'Event'),
      events as (
        select e.cluster, e.object, coalesce(e.object->'involvedObject', e.object->'regarding') as about
        from resources e where e.kind = 'Event' and ${grants ? conditionSql(grants) : sql`true`})
      select e.cluster, e.about->>'kind' as kind, coalesce(e.about->>'namespace', '') as namespace, e.about->>'name' as name,
        e.object->>'type' as type, e.object->>'reason' as reason, coalesce(e.object->>'message', e.object->>'note') as message,
        coalesce((e.object->'series'->>'count')::int, (e.object->>'count')::int, 1) as count,
        coalesce(e.object->'series'->>'lastObservedTime', e.object->>'lastTimestamp', e.object->>'eventTime',
          e.object->'metadata'->>'creationTimestamp') as time
      from events e join targets t on t.cluster = e.cluster and t.kind = e.about->>'kind'
        and t.namespace = coalesce(e.about->>'namespace', '') and t.name = e.about->>'name'
        and coalesce(e.about->>'uid', t.uid) = t.uid
      order by time desc nulls last limit ${limit}`);
    return items as unknown as Obj[];
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
    // Several keys make one group per combination of values; an object lacking any is in none.
    const key = keys.length === 1 ? keys[0]! : sql`concat_ws(' / ', ${sql.join(keys, sql`, `)})`;
    const present = sql.join(
      keys.map((k) => sql`${k} is not null`),
      sql` and `,
    );
    const scope = addressed(request);
    const items = await db.execute(sql`
      with r as (select cluster, uid, kind, namespace, labels, annotations from resources
        where ${scope ? conditionSql(scope) : sql`true`}),
      grouped as (select ${key} as "group", h.score, h.open_issues, r.cluster, r.uid
        from r join resource_health h on h.cluster = r.cluster and h.uid = r.uid
        left join clusters c on c.name = r.cluster
        where ${present}),
      severities as (select x."group", i.severity, count(*)::int as n
        from issues i join grouped x on x.cluster = i.cluster and x.uid = i.uid
        where i.resolved_at is null group by 1, 2)
      select g."group", count(*)::int as objects, (count(*) filter (where g.open_issues > 0))::int as "objectsWithIssues",
        sum(g.open_issues)::int as "openIssues", round(avg(g.score)::numeric, 2)::float as score,
        coalesce((select jsonb_object_agg(s.severity, s.n) from severities s where s."group" = g."group"), '{}'::jsonb)
          as "issuesBySeverity"
      from grouped g group by g."group" order by score, g."group" limit 1000`);
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
    const rows = await db.execute(
      sql`select object from resources where ${conditionSql(addressed(request)!)} limit 2`,
    );
    if (rows.length !== 1)
      throw new HttpProblem(
        404,
        "NOT_FOUND",
        "Not found",
        `no single ${q.kind} ${q.namespace ? `${q.namespace}/` : ""}${q.name} in cluster ${q.cluster} that you may read`,
      );
    return (rows[0] as { object: Obj }).object;
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
      const related = near.length
        ? (
            (await db.execute(
              sql`select object from resources where cluster = ${near[0]!.cluster} and uid in (${sql.join(
                near.map((n) => sql`${n.uid}`),
                sql`, `,
              )})`,
            )) as unknown as { object: Obj }[]
          ).map((r) => r.object)
        : [];
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
