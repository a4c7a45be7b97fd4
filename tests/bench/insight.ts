/**
 * npm run bench:insight: topology and score speed from the index, printed, never asserted.
 *
 * Loads one cluster of 100k objects (10 namespaces of 10k: apps of a Deployment, its ReplicaSet,
 * five Pods on 40 nodes, a Service selecting them, a ConfigMap and a Secret they read), with open
 * issues on a tenth of the pods, then asks the running query service's insight endpoints over
 * HTTPS for the topology and the scores of one namespace and of the whole cluster, BENCH_RUNS
 * times each, and prints p50 and p99. Karpor lists a cluster live to draw the
 * same picture (43 s for a large cluster, research/karpor.md); these answers come from the index.
 */
import postgres from "postgres";
import { TestHub } from "../support/hub.js";
import { percentile } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const NAMESPACES = 10;
const APPS_PER_NAMESPACE = 1000;

/** Ten objects per app: $1 is the kind's position in the app, so uids and names stay unique. */
const LOAD = `
with apps as (select n, a, 'ns-' || n as ns, 'app-' || a as app from generate_series(0, ${NAMESPACES - 1}) n,
  generate_series(0, ${APPS_PER_NAMESPACE - 1}) a),
objects as (
  select ns, app, 'Deployment' as kind, 'apps' as g, 'deployments' as res, app as name, '[]'::jsonb as owners,
    jsonb_build_object('spec', jsonb_build_object('selector', jsonb_build_object('matchLabels', jsonb_build_object('app', app)),
      'template', jsonb_build_object('spec', jsonb_build_object('containers', jsonb_build_array(jsonb_build_object('name', 'main',
        'envFrom', jsonb_build_array(jsonb_build_object('configMapRef', jsonb_build_object('name', app || '-config'))))))))) as body
  from apps
  union all
  select ns, app, 'ReplicaSet', 'apps', 'replicasets', app || '-1',
    jsonb_build_array(jsonb_build_object('kind', 'Deployment', 'name', app, 'uid', 'Deployment/' || ns || '/' || app)),
    jsonb_build_object('spec', jsonb_build_object('replicas', 5)) from apps
  union all
  select ns, app, 'Pod', '', 'pods', app || '-1-' || p,
    jsonb_build_array(jsonb_build_object('kind', 'ReplicaSet', 'name', app || '-1', 'uid', 'ReplicaSet/' || ns || '/' || app || '-1')),
    jsonb_build_object('spec', jsonb_build_object('nodeName', 'node-' || ((a * 5 + p) % 40), 'containers', jsonb_build_array(
      jsonb_build_object('name', 'main', 'env', jsonb_build_array(jsonb_build_object('name', 'PW', 'valueFrom',
        jsonb_build_object('secretKeyRef', jsonb_build_object('name', app || '-secret', 'key', 'pw'))))))),
      'status', jsonb_build_object('phase', 'Running'))
  from apps, generate_series(0, 4) p
  union all
  select ns, app, 'Service', '', 'services', app, '[]'::jsonb,
    jsonb_build_object('spec', jsonb_build_object('selector', jsonb_build_object('app', app))) from apps
  union all
  select ns, app, 'ConfigMap', '', 'configmaps', app || '-config', '[]'::jsonb, '{}'::jsonb from apps
  union all
  select ns, app, 'Secret', '', 'secrets', app || '-secret', '[]'::jsonb, '{}'::jsonb from apps
)
insert into resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels, annotations,
  owner_refs, resource_version, created_at, object, sync_id)
select 'big', kind || '/' || ns || '/' || name, g, case when g = '' then 'v1' else g || '/v1' end, kind, res, ns, name,
  jsonb_build_object('app', app, 'team', 'team-' || (abs(hashtext(app)) % 8)), '{}'::jsonb, owners, 1, now(),
  jsonb_build_object('kind', kind, 'metadata', jsonb_build_object('name', name, 'namespace', ns, 'uid', kind || '/' || ns || '/' || name,
    'labels', jsonb_build_object('app', app), 'ownerReferences', owners)) || body, 's1'
from objects
`;

const NODES = `
insert into resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels, annotations,
  owner_refs, resource_version, created_at, object, sync_id)
select 'big', 'Node/node-' || i, '', 'v1', 'Node', 'nodes', '', 'node-' || i, '{}'::jsonb, '{}'::jsonb, '[]'::jsonb, 1, now(),
  jsonb_build_object('kind', 'Node', 'metadata', jsonb_build_object('name', 'node-' || i)), 's1'
from generate_series(0, 39) i
`;

const ISSUES = `
insert into issues (cluster, uid, rule, container, kind, namespace, name, severity, category, message)
select cluster, uid, 'CrashLoopBackOff', '', kind, namespace, name, 'critical', 'Runtime', 'crash looping'
from resources where kind = 'Pod' and abs(hashtext(uid)) % 10 = 0
`;

async function main(): Promise<void> {
  const hub = await new TestHub().start();
  try {
    const started = performance.now();
    const loader = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
    await loader`alter table resources disable trigger user`;
    await loader.unsafe(LOAD);
    await loader.unsafe(NODES);
    await loader`alter table resources enable trigger user`;
    await loader.unsafe(ISSUES);
    await loader`vacuum analyze resources`;
    await loader`vacuum analyze issues`;
    const [{ objects }] = (await loader`select count(*)::int as objects from resources`) as unknown as [
      { objects: number },
    ];
    await loader.end();
    console.log(
      `loaded ${objects.toLocaleString()} objects in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );

    const cases: { name: string; url: string; check: (body: Record<string, unknown>) => string }[] = [
      {
        name: "topology, one Deployment's neighbourhood (10k ns)",
        url: "/api/v1/insight/topology?cluster=big&namespace=ns-3&kind=Deployment&name=app-500&depth=3",
        check: (b) => `${(b.nodes as unknown[]).length} nodes, ${(b.edges as unknown[]).length} edges`,
      },
      {
        name: "topology by kind, 10k-object namespace",
        url: "/api/v1/insight/topology?cluster=big&namespace=ns-3",
        check: (b) => `${(b.relations as unknown[]).length} kind relations`,
      },
      {
        name: "topology by kind, 100k-object cluster",
        url: "/api/v1/insight/topology?cluster=big",
        check: (b) => `${(b.relations as unknown[]).length} kind relations`,
      },
      {
        name: "score, 10k-object namespace",
        url: "/api/v1/insight/score?cluster=big&namespace=ns-3",
        check: (b) => `score ${(b.items as { score: number }[])[0]?.score}`,
      },
      {
        name: "score per namespace, 100k-object cluster",
        url: "/api/v1/insight/score?cluster=big&by=namespace",
        check: (b) => `${(b.items as unknown[]).length} namespaces`,
      },
      {
        name: "score per object, worst first, 10k ns",
        url: "/api/v1/insight/score?cluster=big&namespace=ns-3&by=object",
        check: (b) => `${(b.items as unknown[]).length} objects`,
      },
      {
        name: "groups by label team, 100k-object cluster",
        url: "/api/v1/insight/groups?cluster=big&by=label:team",
        check: (b) => `${(b.items as unknown[]).length} groups`,
      },
    ];

    console.log(`${"case".padEnd(52)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)}  answer`);
    for (const c of cases) {
      const samples: number[] = [];
      let answer = "";
      for (let run = 0; run < RUNS; run++) {
        const begin = performance.now();
        const response = await hub.fetch(c.url);
        const body = await response.json();
        samples.push(performance.now() - begin);
        if (!response.ok) throw new Error(`${c.url} answered ${response.status}: ${JSON.stringify(body)}`);
        answer = c.check(body as Record<string, unknown>);
      }
      samples.sort((a, b) => a - b);
      console.log(
        `${c.name.padEnd(52)} ${percentile(samples, 50).toFixed(1).padStart(9)} ${percentile(samples, 99).toFixed(1).padStart(9)}  ${answer}`,
      );
    }
  } finally {
    await hub.stop();
  }
}

await main();
