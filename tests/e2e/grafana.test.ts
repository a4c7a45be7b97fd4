import { readdirSync, readFileSync } from "node:fs";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: dashboards are loose JSON
type Any = any;

const DASHBOARDS = new URL("../../infra/grafana/dashboards/", import.meta.url);
const FROM = new Date(Date.now() - 3_600_000).toISOString();
const TO = new Date(Date.now() + 60_000).toISOString();

/** Grafana's Postgres macros and template variables, expanded as Grafana expands them. */
function expand(sql: string, variables: Record<string, string>): string {
  return sql
    .replace(
      /\$__timeFilter\(([^)]+)\)/g,
      (_, column) => `${column} BETWEEN '${FROM}'::timestamptz AND '${TO}'::timestamptz`,
    )
    .replace(/\$__timeGroupAlias\(([^,]+),\s*'?(\d+)([smh])'?\)/g, (_, column, n, unit) => {
      const seconds = Number(n) * { s: 1, m: 60, h: 3600 }[unit as "s" | "m" | "h"];
      return `to_timestamp(floor(extract(epoch from ${column})/${seconds})*${seconds}) AS "time"`;
    })
    .replace(/\$__timeFrom\(\)/g, `'${FROM}'`)
    .replace(/\$__timeTo\(\)/g, `'${TO}'`)
    .replace(/\$(\w+)/g, (match, name) =>
      name in variables ? `'${variables[name]!.replace(/'/g, "''")}'` : match,
    );
}

describe("Grafana over Postgres", () => {
  const hub = new TestHub();
  const sim = new KubeSim({ name: "graphed", token: "t" });
  let grafana: postgres.Sql;

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, {
      seed: 505,
      namespaces: ["default", "shop"],
      deploymentsPerNamespace: 2,
      failures: { CrashLoopBackOff: 1 },
    });
    await hub.start();
    hub.startScheduler({ ATOLL_SNAPSHOT_MS: "500" });
    hub.startAgent(sim);
    await hub.waitIndexed(sim);
    const apply = await hub.send("POST", "/api/v1/apply", {
      documents: `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: cfg, namespace: shop }
spec: { resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: cfg }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cfg, namespace: shop }
data: { a: b }`,
    });
    expect(apply.status).toBe(200);
    const url = new URL(hub.databaseUrl);
    url.username = "atoll_grafana";
    grafana = postgres(url.toString(), { max: 1, onnotice: () => {} });
    await until(
      async () => {
        const [row] = await grafana`select count(*)::int as n from grafana.health_scores`;
        const [placed] = await grafana`select count(*)::int as n from grafana.placement_status`;
        return (row?.n ?? 0) > 0 && (placed?.n ?? 0) > 0;
      },
      "snapshots and a binding",
      30_000,
    );
  }, 90_000);
  afterAll(async () => {
    await grafana?.end();
    await hub.stop();
    await sim.stop();
  });

  it("runs every panel's SQL as atoll_grafana and gets the columns the panel needs", async () => {
    const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json"));
    expect(files.sort()).toEqual([
      "cluster-detail.json",
      "fleet-overview.json",
      "issues.json",
      "placement.json",
    ]);
    let queries = 0;
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(new URL(file, DASHBOARDS), "utf8"));
      const variables: Record<string, string> = {};
      for (const variable of dashboard.templating?.list ?? []) {
        const [first] = await grafana.unsafe(expand(variable.query, {}));
        expect(first, `${file}: variable ${variable.name} has values`).toBeDefined();
        variables[variable.name] = String(Object.values(first!)[0]);
      }
      for (const panel of dashboard.panels as Any[]) {
        for (const target of panel.targets) {
          const sql = expand(target.rawSql, variables);
          const result = await grafana.unsafe(sql).catch((error: Error) => {
            throw new Error(`${file} › ${panel.title}: ${error.message}\n${sql}`);
          });
          const columns = result.columns.map((c: { name: string }) => c.name);
          expect(columns, `${file} › ${panel.title}`).toEqual(expect.arrayContaining(target.atollColumns));
          if (target.format === "time_series") expect(columns).toContain("time");
          queries += 1;
        }
      }
    }
    expect(queries).toBeGreaterThanOrEqual(19);
  });

  it("lets atoll_grafana read the views and nothing else", async () => {
    for (const table of [
      "resources",
      "api_tokens",
      "roles",
      "issues",
      "clusters",
      "templates",
      "works",
      "metric_snapshots",
    ]) {
      await expect(grafana.unsafe(`select 1 from public.${table} limit 1`), table).rejects.toThrow(
        /permission denied/,
      );
    }
    await expect(
      grafana.unsafe("insert into grafana.resources_by_kind values (now(), 'x', 'y', 1)"),
    ).rejects.toThrow();
    const [row] = await grafana`select count(*)::int as n from grafana.resources_by_kind`;
    expect(row!.n).toBeGreaterThan(0);
  });
});
