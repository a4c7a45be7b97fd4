/**
 * npm run bench:search: search speed over a large index, printed, never asserted.
 *
 * Loads BENCH_OBJECTS objects (1M by default) over 10 clusters into a fresh database, then runs
 * 20 representative queries through Atoll's front ends and Postgres back end (keyword, SQL,
 * plain language, the kube API's list with selectors, deep paging) and, in the same run and
 * interleaved with them, the same query written by hand as the SQL one would write for these
 * tables: parameterised, as any application's SQL is, and as safe (a cast of a JSON field to a
 * number is guarded, since one odd object would otherwise abort the query). Both sides must
 * return the same rows; the ratio of their p50s is Atoll's overhead.
 */
import { parseFieldSelector, parseLabelSelector } from "@atoll/kube";
import {
  and,
  type Condition,
  type Cursor,
  kubeListConditions,
  parseKeywordQuery,
  parseNaturalQuery,
  parseSqlQuery,
  type Query,
  type SearchPage,
  searchPostgres,
} from "@atoll/search";
import { openDatabase, SEARCH_SESSION, temporaryDatabase } from "@atoll/store";
import postgres from "postgres";
import { percentile } from "./stats.js";

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const CLUSTERS = 10;
const NAMESPACES = 50;
/** Half of the config maps (a tenth of the objects) are skipped by the deep offset page. */
const DEEP_OFFSET = Math.floor(OBJECTS / 20);

/** Objects shaped as the sims make them: pods (60%), replica sets, deployments, services, config maps. */
const LOAD = `
insert into resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels, annotations,
  owner_refs, resource_version, created_at, object_words, object, sync_id)
select cluster, uid, api_group, 'v1', kind, resource, namespace, name, labels, '{}'::jsonb, '[]'::jsonb, i, created,
  -- The words the indexer would take from a pod's spec and status: container, image, node, phase.
  case kind when 'Pod' then array['main', 'registry', 'app', (i % 500)::text, '1', (i % 7)::text, 'node', (i % 40)::text,
    'running', 'true'] else '{}' end,
  jsonb_build_object('apiVersion', case when api_group = '' then 'v1' else api_group || '/v1' end, 'kind', kind,
    'metadata', jsonb_build_object('name', name, 'namespace', namespace, 'uid', uid, 'labels', labels,
      'creationTimestamp', to_char(created at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
  || case kind
    when 'Pod' then jsonb_build_object(
      'spec', jsonb_build_object('nodeName', 'node-' || (i % 40),
        'containers', jsonb_build_array(jsonb_build_object('name', 'main', 'image', 'registry/' || app || ':1.' || (i % 7)))),
      'status', case abs(hashint4(i + 7)) % 100
        when 0 then jsonb_build_object('phase', 'Running', 'containerStatuses', jsonb_build_array(jsonb_build_object(
          'name', 'main', 'ready', false, 'restartCount', 5 + i % 20, 'state', jsonb_build_object('waiting', jsonb_build_object('reason', 'CrashLoopBackOff')))))
        when 1 then jsonb_build_object('phase', 'Pending', 'conditions', jsonb_build_array(jsonb_build_object('type', 'PodScheduled', 'status', 'False', 'reason', 'Unschedulable')))
        when 2 then jsonb_build_object('phase', 'Pending', 'containerStatuses', jsonb_build_array(jsonb_build_object(
          'name', 'main', 'ready', false, 'restartCount', 0, 'state', jsonb_build_object('waiting', jsonb_build_object('reason', 'ImagePullBackOff')))))
        else jsonb_build_object('phase', 'Running', 'podIP', '10.0.' || (i % 250) || '.' || (i % 200), 'containerStatuses', jsonb_build_array(jsonb_build_object(
          'name', 'main', 'ready', true, 'restartCount', i % 3, 'state', jsonb_build_object('running', jsonb_build_object()))))
      end)
    when 'Deployment' then jsonb_build_object('spec', jsonb_build_object('replicas', 1 + i % 5),
      'status', jsonb_build_object('replicas', 1 + i % 5, 'readyReplicas', 1 + i % 5 - case when i % 40 = 0 then 1 else 0 end))
    when 'ReplicaSet' then jsonb_build_object('spec', jsonb_build_object('replicas', 1 + i % 5), 'status', jsonb_build_object('replicas', 1 + i % 5))
    when 'Service' then jsonb_build_object('spec', jsonb_build_object('type', 'ClusterIP', 'clusterIP', '10.96.' || (i % 250) || '.' || (i % 200),
      'ports', jsonb_build_array(jsonb_build_object('port', 80, 'protocol', 'TCP'))))
    else jsonb_build_object('data', jsonb_build_object('config.yaml', 'key: value-' || i))
  end,
  's1'
from (
  select i, 'cluster-' || (i % ${CLUSTERS}) as cluster, md5(i::text) as uid,
    (array['', '', '', '', '', '', '', '', '', '', '', '', 'apps', 'apps', 'apps', 'apps', 'apps', '', '', ''])[abs(hashint4(i)) % 20 + 1] as api_group,
    (array['Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod', 'Pod',
      'ReplicaSet', 'ReplicaSet', 'ReplicaSet', 'Deployment', 'Deployment', 'Service', 'ConfigMap', 'ConfigMap'])[abs(hashint4(i)) % 20 + 1] as kind,
    (array['pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods', 'pods',
      'replicasets', 'replicasets', 'replicasets', 'deployments', 'deployments', 'services', 'configmaps', 'configmaps'])[abs(hashint4(i)) % 20 + 1] as resource,
    'ns-' || (abs(hashint4(i + 13)) % ${NAMESPACES}) as namespace,
    'app-' || (i % 500) || '-' || substr(md5(i::text), 1, 10) as name,
    'app-' || (i % 500) as app,
    jsonb_build_object('app', 'app-' || (i % 500), 'tier', (array['frontend', 'backend', 'db'])[abs(hashint4(i + 29)) % 3 + 1],
      'env', (array['prod', 'staging'])[i % 2 + 1]) as labels,
    now() - make_interval(mins => (i * 7) % 43200) as created
  from generate_series($1::int, $2::int) as i
) generated`;

type Rows = Record<string, unknown>[];

interface Case {
  name: string;
  /** Atoll's path: front end, translation and the Postgres back end. */
  ours: () => Promise<SearchPage>;
  /** The same answer, hand-written. */
  hand: () => Promise<Rows>;
}

const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);

async function main(): Promise<void> {
  const database = await temporaryDatabase("bench_search");
  const handle = await openDatabase(database.url, {
    migrate: false,
    maxConnections: 4,
    sessionSettings: SEARCH_SESSION,
  });
  const { sql, db } = handle;
  try {
    console.log(`loading ${OBJECTS.toLocaleString()} objects over ${CLUSTERS} clusters…`);
    const loadStart = performance.now();
    // Loading is not a search: it runs without the search pool's statement timeout.
    const loader = postgres(database.url, { max: 1, onnotice: () => {} });
    await loader`alter table resources disable trigger user`;
    for (let from = 1; from <= OBJECTS; from += 100_000)
      await loader.unsafe(LOAD, [from, Math.min(OBJECTS, from + 99_999)]);
    await loader`alter table resources enable trigger user`;
    await loader`vacuum analyze resources`;
    await loader.end();
    console.log(`loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);

    const PAGE = 100;
    const columns = `cluster, api_group, api_version, kind, namespace, name, uid, resource_version::text as rv, object`;
    const order = `order by cluster, kind, namespace, name, uid`;
    /** What the search endpoint answers: a keyset page and a total exact up to 10,000. */
    const page = (where: string, params: unknown[]) => async () => {
      const rows = await sql.unsafe(
        `select ${columns} from resources where ${where} ${order} limit ${PAGE + 1}`,
        params as never,
      );
      const [count] = await sql.unsafe(
        `select count(*)::int as n from (select 1 from resources where ${where} limit 10001) capped`,
        params as never,
      );
      if ((count?.n ?? 0) > 10_000)
        await sql.unsafe(`explain (format json) select 1 from resources where ${where}`, params as never);
      return rows as unknown as Rows;
    };
    const search = (query: () => Query) => () =>
      searchPostgres(db, query(), { limit: PAGE, withTotal: true });
    const kubeList =
      (
        cluster: string | undefined,
        namespace: string,
        selectors: { labelSelector?: string; fieldSelector?: string },
        limit: number,
      ) =>
      () => {
        const route = {
          type: {
            group: "",
            version: "v1",
            kind: "Pod",
            resource: "pods",
            namespaced: true,
            shortNames: [],
            categories: [],
          },
          namespace,
        };
        const conditions: Condition[] = kubeListConditions(route, {
          ...(cluster ? { cluster } : {}),
          ...selectors,
        });
        // The route parses the selectors too; the parse is part of the path being timed.
        parseLabelSelector(selectors.labelSelector ?? "");
        parseFieldSelector(selectors.fieldSelector ?? "");
        const where = and(conditions);
        return searchPostgres(db, { ...(where ? { where } : {}), orderBy: [] }, { limit });
      };

    // The cursor 20,000 pods into the listing, for deep keyset paging.
    const [deep] = await sql`
      select cluster, kind, namespace, name, uid from resources where kind = 'Pod'
      order by cluster, kind, namespace, name, uid offset 20000 limit 1`;
    const cursor = deep as unknown as Cursor;

    /** A JSON number at a path, or null: a bare cast would abort the query on one odd object. */
    const NUMBER = (path: string) =>
      `(case when jsonb_typeof(object #> '{${path}}') = 'number' then (object #> '{${path}}')::numeric end)`;
    const list = (where: string, params: unknown[], limit: number) => async () =>
      (await sql.unsafe(
        `select ${columns} from resources where ${where} ${order} limit ${limit + 1}`,
        params as never,
      )) as unknown as Rows;
    const cases: Case[] = [
      {
        name: "keyword kind:Pod ns:ns-7",
        ours: search(() => parseKeywordQuery("kind:Pod ns:ns-7")),
        hand: page("kind = $1 and namespace = $2", ["Pod", "ns-7"]),
      },
      {
        name: "keyword app=app-42",
        ours: search(() => parseKeywordQuery("app=app-42")),
        hand: page("labels @> $1::jsonb", ['{"app":"app-42"}']),
      },
      {
        name: "keyword status:CrashLoopBackOff",
        ours: search(() => parseKeywordQuery("status:CrashLoopBackOff")),
        hand: page("status_reasons @> jsonb_build_array($1::text)", ["crashloopbackoff"]),
      },
      {
        name: "keyword cluster:cluster-3 kind:deploy tier=backend",
        ours: search(() => parseKeywordQuery("cluster:cluster-3 kind:deploy tier=backend")),
        hand: page("cluster = $1 and kind = $2 and labels @> $3::jsonb", [
          "cluster-3",
          "Deployment",
          '{"tier":"backend"}',
        ]),
      },
      {
        name: "keyword words app-123",
        ours: search(() => parseKeywordQuery("app-123")),
        hand: page("search @@ to_tsquery('simple', $1)", ["app:* & 123:*"]),
      },
      {
        name: "keyword name:app-7-*",
        ours: search(() => parseKeywordQuery("name:app-7-*")),
        hand: page("name like $1", ["app-7-%"]),
      },
      {
        name: "keyword kind:Pod age<1h",
        ours: search(() => parseKeywordQuery("kind:Pod age<1h")),
        hand: page("kind = $1 and created_at > now() - make_interval(secs => $2)", ["Pod", 3600]),
      },
      {
        name: "sql phase Pending in ns-3",
        ours: search(() =>
          parseSqlQuery(
            "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Pending' AND namespace = 'ns-3'",
          ),
        ),
        hand: page("kind = $1 and namespace = $2 and object #>> '{status,phase}' = $3", [
          "Pod",
          "ns-3",
          "Pending",
        ]),
      },
      {
        name: "sql label != on services",
        ours: search(() =>
          parseSqlQuery(
            "SELECT * FROM resources WHERE labels['tier'] != 'db' AND kind = 'Service' AND cluster = 'cluster-1'",
          ),
        ),
        hand: page("cluster = $1 and kind = $2 and not labels @> $3::jsonb", [
          "cluster-1",
          "Service",
          '{"tier":"db"}',
        ]),
      },
      {
        name: "sql spec.replicas >= 4",
        ours: search(() =>
          parseSqlQuery(
            "SELECT * FROM resources WHERE spec.replicas >= 4 AND kind = 'Deployment' AND namespace = 'ns-9'",
          ),
        ),
        hand: page(`kind = $1 and namespace = $2 and ${NUMBER("spec,replicas")} >= $3`, [
          "Deployment",
          "ns-9",
          4,
        ]),
      },
      {
        name: "sql count by namespace",
        ours: search(() =>
          parseSqlQuery(
            "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' AND cluster = 'cluster-2' GROUP BY namespace",
          ),
        ),
        hand: async () =>
          (await sql`select namespace, count(*)::int as n from resources where kind = ${"Pod"} and cluster = ${"cluster-2"}
            group by namespace order by n desc, namespace limit 1000`) as unknown as Rows,
      },
      {
        name: "sql count by cluster, kind (all rows)",
        ours: search(() =>
          parseSqlQuery("SELECT cluster, kind, COUNT(*) FROM resources GROUP BY cluster, kind"),
        ),
        hand: async () =>
          (await sql`select cluster, kind, count(*)::int as n from resources group by cluster, kind order by n desc, cluster, kind limit 1000`) as unknown as Rows,
      },
      {
        name: "sql image LIKE through an array",
        ours: search(() =>
          parseSqlQuery(
            "SELECT * FROM resources WHERE spec.containers[*].image LIKE 'registry/app-45:%' AND kind = 'Pod' AND cluster = 'cluster-5'",
          ),
        ),
        hand: page(
          "cluster = $1 and kind = $2 and exists (select 1 from jsonb_array_elements(object -> 'spec' -> 'containers') c where c ->> 'image' like $3)",
          ["cluster-5", "Pod", "registry/app-45:%"],
        ),
      },
      {
        name: "nl pods not running in ns-4",
        ours: search(() => parseNaturalQuery("pods not running in ns-4").query),
        hand: page("namespace = $1 and kind = $2 and object #>> '{status,phase}' is distinct from $3", [
          "ns-4",
          "Pod",
          "Running",
        ]),
      },
      {
        name: "nl deployments with fewer ready replicas",
        ours: search(
          () => parseNaturalQuery("deployments in ns-2 with fewer ready replicas than desired").query,
        ),
        hand: page(
          `namespace = $1 and kind = $2 and coalesce(${NUMBER("status,readyReplicas")}, 0) < coalesce(${NUMBER("spec,replicas")}, 0)`,
          ["ns-2", "Deployment"],
        ),
      },
      {
        name: "nl ns-1 下所有的服务 (zh)",
        ours: search(() => parseNaturalQuery("ns-1 下所有的服务").query),
        hand: page("namespace = $1 and kind = $2", ["ns-1", "Service"]),
      },
      {
        name: "kube list -A -l tier=frontend -n ns-5",
        ours: kubeList(undefined, "ns-5", { labelSelector: "tier=frontend" }, 500),
        hand: list(
          "api_group = $1 and kind = $2 and namespace = $3 and labels @> $4::jsonb",
          ["", "Pod", "ns-5", '{"tier":"frontend"}'],
          500,
        ),
      },
      {
        name: "kube list cluster-0 --field-selector phase",
        ours: kubeList("cluster-0", "ns-6", { fieldSelector: "status.phase=Running" }, 500),
        hand: list(
          "api_group = $1 and kind = $2 and cluster = $3 and namespace = $4 and object #>> '{status,phase}' = $5",
          ["", "Pod", "cluster-0", "ns-6", "Running"],
          500,
        ),
      },
      {
        name: "deep keyset page (20,000 pods in)",
        ours: () => searchPostgres(db, parseKeywordQuery("kind:Pod"), { limit: PAGE, after: cursor }),
        hand: list(
          "kind = $1 and (cluster, kind, namespace, name, uid) > ($2, $3, $4, $5, $6)",
          ["Pod", cursor.cluster, cursor.kind, cursor.namespace, cursor.name, cursor.uid],
          PAGE,
        ),
      },
      {
        name: `deep offset page (ORDER BY name OFFSET ${DEEP_OFFSET})`,
        ours: search(() =>
          parseSqlQuery(
            `SELECT * FROM resources WHERE kind = 'ConfigMap' ORDER BY name LIMIT 100 OFFSET ${DEEP_OFFSET}`,
          ),
        ),
        hand: async () =>
          (await sql.unsafe(
            `select ${columns} from resources where kind = $1 order by name asc nulls last, uid limit 101 offset ${DEEP_OFFSET}`,
            ["ConfigMap"],
          )) as unknown as Rows,
      },
    ];

    console.log(
      `${"query".padEnd(48)} ${"atoll p50".padStart(10)} ${"p99".padStart(8)} ${"hand p50".padStart(10)} ${"p99".padStart(8)} ${"ratio".padStart(6)}`,
    );
    const ratios: number[] = [];
    for (const c of cases) {
      // The same rows, or the comparison means nothing.
      const ours = await c.ours();
      const hand = await c.hand();
      const ourKeys = ours.aggregations
        ? ours.aggregations.map((a) => `${Object.values(a.key).join("/")}=${a.count}`)
        : ours.items.map((i) => `${i.cluster}/${i.uid}`);
      const handKeys = ours.aggregations
        ? hand.map(
            (r) =>
              `${Object.entries(r)
                .filter(([k]) => k !== "n")
                .map(([, v]) => v)
                .join("/")}=${r.n}`,
          )
        : hand.slice(0, ours.items.length).map((r) => `${r.cluster}/${r.uid}`);
      if (JSON.stringify(ourKeys) !== JSON.stringify(handKeys) || ourKeys.length === 0)
        throw new Error(
          `${c.name}: Atoll and the hand-written SQL disagree (${ourKeys.length} vs ${handKeys.length} rows)`,
        );
      const times = { ours: [] as number[], hand: [] as number[] };
      for (let run = 0; run < RUNS; run++) {
        // Interleaved, so both sides see the same noise on a shared machine.
        for (const side of run % 2 ? (["hand", "ours"] as const) : (["ours", "hand"] as const)) {
          const start = performance.now();
          await c[side]();
          times[side].push(performance.now() - start);
        }
      }
      const o = times.ours.sort((a, b) => a - b);
      const h = times.hand.sort((a, b) => a - b);
      const ratio = percentile(o, 50) / percentile(h, 50);
      ratios.push(ratio);
      console.log(
        `${c.name.padEnd(48)} ${ms(percentile(o, 50)).padStart(10)} ${ms(percentile(o, 99)).padStart(8)} ${ms(percentile(h, 50)).padStart(10)} ${ms(percentile(h, 99)).padStart(8)} ${ratio.toFixed(2).padStart(6)}`,
      );
    }
    console.log(
      `\nworst ratio ${Math.max(...ratios).toFixed(2)} (target ≤ 1.50); times in ms, ${RUNS} runs each`,
    );
  } finally {
    await handle.close();
    await database.drop();
  }
}

await main();
