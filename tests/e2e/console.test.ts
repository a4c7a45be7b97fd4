import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CONSOLE_DIRECTORY } from "@atoll/console";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import {
  applyIndexOps,
  type ObjectRow,
  openDatabase,
  recordMetricSnapshots,
  registerCluster,
} from "@atoll/store";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are loose JSON
type Any = any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Screenshots of every page, kept as the suite's artifacts (two of them are in docs/images). */
const ARTIFACTS = join(import.meta.dirname, "..", "artifacts", "console");
const NAMESPACES = ["default", "web", "payments"];
/** A namespace of this many objects, indexed directly, for the topology's speed. */
const BULK_OBJECTS = 10_000;

/** Deployments owning ReplicaSets owning Pods, with a Service per Deployment: BULK_OBJECTS in all. */
function bulkNamespace(): ObjectRow[] {
  const rows: ObjectRow[] = [];
  const add = (kind: string, apiGroup: string, name: string, extra: Any = {}) => {
    const uid = `bulk-${kind}-${name}`;
    rows.push({
      cluster: "bulk",
      uid,
      apiGroup,
      apiVersion: "v1",
      kind,
      resource: `${kind.toLowerCase()}s`,
      namespace: "bulk",
      name,
      resourceVersion: 1n,
      syncId: "s1",
      objectJson: JSON.stringify({
        apiVersion: apiGroup ? `${apiGroup}/v1` : "v1",
        kind,
        metadata: { name, namespace: "bulk", uid, labels: { app: name.split("-")[0] }, ...extra.metadata },
        ...(extra.spec ? { spec: extra.spec } : {}),
      }),
    });
    return uid;
  };
  const owner = (kind: string, name: string, uid: string) => ({
    metadata: { ownerReferences: [{ apiVersion: "v1", kind, name, uid, controller: true }] },
  });
  for (let d = 0; rows.length < BULK_OBJECTS; d++) {
    const app = `app${d}`;
    const deployment = add("Deployment", "apps", app, { spec: { selector: { matchLabels: { app } } } });
    add("Service", "", app, { spec: { selector: { app } } });
    const replicaSet = add("ReplicaSet", "apps", `${app}-rs`, owner("Deployment", app, deployment));
    for (let p = 0; p < 6 && rows.length < BULK_OBJECTS; p++)
      add("Pod", "", `${app}-rs-${p}`, owner("ReplicaSet", `${app}-rs`, replicaSet));
  }
  return rows;
}

describe("the web console, in a real browser", () => {
  const hub = new TestHub();
  const sims = ["sim-1", "sim-2"].map((name) => new KubeSim({ name, token: `t-${name}` }));
  let browser: Browser;
  const tokens: Record<string, string> = {};

  /** A new browser page signed in through the sign-in form. */
  async function signedIn(role: string): Promise<Page> {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${hub.baseUrl}/ui/`);
    await page.getByLabel("Token").fill(tokens[role]!);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("whoami").waitFor();
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

  /** The text of every cell of a table, row by row. */
  const cells = (page: Page, testId: string) =>
    page
      .getByTestId(testId)
      .locator("tbody tr")
      .evaluateAll((rows) =>
        rows.map((row) => [...row.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );

  /** Every row of a search, paged through with Next, as CLUSTER/NAMESPACE/KIND/NAME. */
  async function allResults(page: Page): Promise<string[]> {
    const seen: string[] = [];
    for (let pageNumber = 1; ; pageNumber++) {
      // A page's rows count once its own answer is drawn, not the previous page's still showing.
      await page
        .locator(`[data-testid=result-summary][data-loading=false]`)
        .filter({ hasText: new RegExp(`page ${pageNumber}$`) })
        .waitFor({ timeout: 30_000 });
      const rows = await cells(page, "results").catch(() => [] as string[][]);
      seen.push(...rows.map((r) => r.slice(0, 4).join("/")));
      const next = page.getByRole("button", { name: "Next →" });
      if (await next.isDisabled()) return seen;
      await next.click();
    }
  }

  const api = (path: string, role: string) =>
    hub.fetch(path, { token: tokens[role]! }).then((r) => r.json() as Promise<Any>);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, { seed: 20 + i, namespaces: NAMESPACES, deploymentsPerNamespace: 3, nodes: 2 });
    }
    await hub.start();
    hub.startScheduler({ ATOLL_CLUSTER_GRACE_SECONDS: "30", ATOLL_CLUSTER_CHECK_MS: "500" });
    await hub.registerPull(sims);
    for (const sim of sims) await hub.waitIndexed(sim);
    const database = await openDatabase(hub.databaseUrl, { migrate: false });
    try {
      await registerCluster(database.sql, { name: "bulk", syncMode: "push" });
      const rows = bulkNamespace();
      for (let i = 0; i < rows.length; i += 2000)
        await applyIndexOps(
          database.sql,
          rows.slice(i, i + 2000).map((row) => ({ op: "upsert" as const, row })),
        );
      // Two days of score history, as the scheduler records it every minute.
      await recordMetricSnapshots(database.sql);
      await database.sql`update metric_snapshots set time = time - interval '1 day'`;
      await recordMetricSnapshots(database.sql);
    } finally {
      await database.close();
    }
    for (const namespace of ["web", "default"]) {
      const documents = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: spread, namespace: ${namespace} }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: settings }]
  placement: { clusterAffinity: { clusterNames: [sim-1] } }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: ${namespace} }
data: { colour: blue }`;
      const applied = await hub.fetch("/api/v1/apply", {
        method: "POST",
        headers: { "content-type": "application/yaml" },
        body: documents,
      });
      expect(applied.status, await applied.text()).toBe(200);
    }
    await until(
      async () => (await hub.get("/api/v1/bindings")).items.length === 2,
      "both bindings to be made",
      30_000,
    );
    const grants = [{ verbs: ["read"], namespaces: ["web"] }];
    expect((await hub.send("PUT", "/api/v1/roles/web-reader", { grants })).status).toBe(200);
    tokens["web-reader"] = (
      await hub.send("POST", "/api/v1/tokens", { name: "web-person", role: "web-reader" })
    ).body.token;
    tokens.admin = hub.adminToken;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hub.stop();
    for (const sim of sims) await sim.stop();
  });

  it("signs in, searches in all three modes, pages through every result and opens an object", async () => {
    const page = await signedIn("admin");
    // Interactive: the search box takes input and the first page of results is drawn.
    await page.goto(`${hub.baseUrl}/ui/search?q=kind%3APod&mode=keyword`);
    await page.getByTestId("results").waitFor();
    const interactiveMs = await page.evaluate(() => performance.now());
    const bundle = JSON.parse(readFileSync(join(CONSOLE_DIRECTORY, "bundle.json"), "utf8")) as Record<
      string,
      { bytes: number; gzip: number }
    >;
    const startup = [
      "assets/app.js",
      "assets/app.css",
      ...Object.keys(bundle).filter((f) => f.includes("/chunk-")),
    ];
    const kib = (files: string[], key: "bytes" | "gzip") =>
      (files.reduce((sum, f) => sum + (bundle[f]?.[key] ?? 0), 0) / 1024).toFixed(1);
    console.info(
      `console: search page interactive ${Math.round(interactiveMs)} ms after navigation; ` +
        `JavaScript and CSS loaded at start ${kib(startup, "bytes")} KiB (${kib(startup, "gzip")} KiB gzipped), ` +
        `all chunks ${kib(Object.keys(bundle), "bytes")} KiB (${kib(Object.keys(bundle), "gzip")} KiB gzipped)`,
    );
    const pods = await api("/api/v1/search?q=kind:Pod&limit=1", "admin");
    expect(await page.getByTestId("result-summary").textContent()).toContain(`${pods.total} results`);
    await expect(page.getByRole("textbox", { name: "SQL" }).inputValue()).resolves.toMatch(/SELECT/);

    // SQL, typed into the box.
    await page.getByRole("radio", { name: "SQL" }).check();
    await page
      .getByLabel("Search")
      .fill("SELECT * FROM resources WHERE namespace = 'web' AND kind = 'Deployment'");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/mode=sql/);
    await page.locator("[data-testid=result-summary][data-loading=false]").waitFor();
    const deployments = await cells(page, "results");
    expect(deployments.length).toBe(6);
    expect(deployments.every((r) => r[1] === "web" && r[2] === "Deployment")).toBe(true);

    // Plain language, in English and in Chinese.
    for (const question of ["deployments in web", "web 命名空间的 deployment"]) {
      await page.goto(`${hub.baseUrl}/ui/search?mode=nl&q=${encodeURIComponent(question)}`);
      await page.getByTestId("results").waitFor();
      const rows = await cells(page, "results");
      expect(rows.length, question).toBe(6);
      expect(
        rows.every((r) => r[1] === "web" && r[2] === "Deployment"),
        question,
      ).toBe(true);
    }
    await shot(page, "search");

    // Paging through every result of a query bigger than a page.
    const everything = encodeURIComponent("SELECT * FROM resources WHERE cluster IN ('sim-1', 'sim-2')");
    await page.goto(`${hub.baseUrl}/ui/search?mode=sql&q=${everything}`);
    const all = await api(`/api/v1/search?mode=sql&q=${everything}&limit=1`, "admin");
    const seen = await allResults(page);
    expect(all.total).toBeGreaterThan(100);
    expect(seen.length).toBe(all.total);
    expect(new Set(seen).size).toBe(all.total);

    // An object's drawer: its YAML, events and findings.
    await page.goto(`${hub.baseUrl}/ui/search?q=kind%3APod+namespace%3Aweb`);
    await page.getByTestId("results").locator("tbody tr").first().click();
    const drawer = page.getByTestId("object-drawer");
    await drawer.waitFor();
    await expect(drawer.locator("pre.yaml").textContent()).resolves.toMatch(/kind: Pod/);
    await drawer.getByRole("button", { name: "Findings" }).click();
    await drawer.getByRole("button", { name: "Events" }).click();
    await shot(page, "object");
    await drawer.getByRole("link", { name: "Topology →" }).click();
    await page.getByTestId("topology-summary").waitFor();
    expect(page.url()).toContain("/ui/topology?");
  });

  it("renders a topology, and a 10,000-object namespace", async () => {
    const page = await signedIn("admin");
    await page.goto(`${hub.baseUrl}/ui/topology?cluster=sim-1&namespace=web&level=object`);
    await page.getByTestId("topology-summary").waitFor();
    expect(await page.getByTestId("topology-summary").textContent()).toMatch(/^[1-9]\d* nodes/);
    await shot(page, "topology");
    const started = Date.now();
    await page.goto(`${hub.baseUrl}/ui/topology?cluster=bulk&namespace=bulk&level=object`);
    await page.getByTestId("topology-summary").waitFor({ timeout: 60_000 });
    const summary = (await page.getByTestId("topology-summary").textContent()) ?? "";
    expect(Number(summary.split(" ")[0])).toBeGreaterThanOrEqual(BULK_OBJECTS);
    console.info(`console: 10,000-object topology: ${summary}; ${Date.now() - started} ms from navigation`);
    await shot(page, "topology-10k");
  });

  it("shows clusters, insight, placement and the gateway audit", async () => {
    const page = await signedIn("admin");
    await page.goto(`${hub.baseUrl}/ui/clusters`);
    await page.getByTestId("clusters").waitFor();
    const clusters = await cells(page, "clusters");
    expect(clusters.map((r) => r[0]).sort()).toEqual(["bulk", "sim-1", "sim-2"]);
    expect(clusters.find((r) => r[0] === "sim-1")?.[2]).toBe("Ready");
    await page.getByTestId("clusters").locator("tbody tr").filter({ hasText: "sim-1" }).click();
    await page.getByTestId("cluster-sync").waitFor();
    await shot(page, "clusters");

    await page.goto(`${hub.baseUrl}/ui/insight`);
    await page.getByTestId("scores").waitFor();
    await page.getByTestId("findings").waitFor();
    await page.getByTestId("score-chart").locator("canvas").waitFor();
    await page.getByRole("button", { name: "Explain these findings, with fixes" }).click();
    await expect(page.locator("pre.answer").textContent()).resolves.toMatch(/\S/);
    await shot(page, "insight");

    await page.goto(`${hub.baseUrl}/ui/placement`);
    await page.getByTestId("bindings").waitFor();
    expect((await cells(page, "bindings")).map((r) => r[0]).sort()).toEqual(["default", "web"]);
    await page.getByTestId("bindings").getByRole("link").first().click();
    await page
      .getByTestId("binding-clusters")
      .waitFor({ timeout: 10_000 })
      .catch(async (error) => {
        throw new Error(`${error.message}; the page says: ${await page.locator("body").innerText()}`);
      });
    const where = await cells(page, "binding-clusters");
    expect(where.map((r) => r[0])).toEqual(["sim-1"]);
    expect(await cells(page, "binding-rejections")).toEqual(
      expect.arrayContaining([expect.arrayContaining([expect.stringContaining("sim-2")])]),
    );
    await shot(page, "binding");

    await page.goto(`${hub.baseUrl}/ui/audit`);
    await page.locator(".empty, [data-testid=audit]").first().waitFor();
    await shot(page, "audit");
  });

  it("shows a namespace-limited token only its rows, on every page", async () => {
    const page = await signedIn("web-reader");
    const role = "web-reader";
    // Search: every row, paged, is in its namespace, and there are as many as the API says.
    const query = "SELECT * FROM resources WHERE cluster <> 'bulk'";
    await page.goto(`${hub.baseUrl}/ui/search?mode=sql&q=${encodeURIComponent(query)}`);
    const seen = await allResults(page);
    const expected = await api(`/api/v1/search?mode=sql&q=${encodeURIComponent(query)}&limit=1`, role);
    expect(seen.length).toBe(expected.total);
    expect(seen.every((row) => row.split("/")[1] === "web")).toBe(true);

    await page.goto(`${hub.baseUrl}/ui/clusters`);
    await page.getByTestId("clusters").waitFor();
    const counts = Object.fromEntries(
      (await api("/api/v1/clusters", role)).items.map((c: Any) => [c.name, String(c.objects)]),
    );
    for (const row of await cells(page, "clusters")) expect(row[9], row[0]).toBe(counts[row[0]!]);

    await page.goto(`${hub.baseUrl}/ui/insight`);
    await page.getByTestId("scores").waitFor();
    await page.locator("[data-testid=findings], .empty").first().waitFor();
    for (const row of await cells(page, "findings").catch(() => [] as string[][])) expect(row[4]).toBe("web");

    await page.goto(`${hub.baseUrl}/ui/topology?cluster=sim-1&level=object`);
    await page.getByTestId("topology-summary").waitFor();
    const nodes = await api("/api/v1/insight/topology?cluster=sim-1&level=object", role);
    expect(nodes.nodes.every((n: Any) => n.namespace === "web")).toBe(true);
    expect(await page.getByTestId("topology-summary").textContent()).toMatch(
      new RegExp(`^${nodes.nodes.length} nodes`),
    );

    await page.goto(`${hub.baseUrl}/ui/placement`);
    await page.getByTestId("bindings").waitFor();
    expect((await cells(page, "bindings")).map((r) => r[0])).toEqual(["web"]);
    await page.goto(`${hub.baseUrl}/ui/placement/default/settings-configmap`);
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toMatch(/BINDING_NOT_FOUND/);

    // The audit is for admins: not in the menu, and refused by the API if asked for.
    expect(await page.getByRole("link", { name: "Gateway audit" }).count()).toBe(0);
    await page.goto(`${hub.baseUrl}/ui/audit`);
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toMatch(/FORBIDDEN/);
    await shot(page, "namespace-limited-search");
  });

  it("serves the console with a policy that runs only its own scripts", async () => {
    const response = await hub.fetch("/ui/search", { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await response.text()).toContain('<div id="root">');
    expect((await hub.fetch("/ui/assets/app.js", { token: null })).status).toBe(200);
    expect(
      (await hub.fetch("/ui/assets/../../../etc/passwd", { token: null })).status,
    ).toBeGreaterThanOrEqual(400);
    // The pages are public; the data is not.
    expect((await hub.fetch("/api/v1/search?q=", { token: null })).status).toBe(401);
  });
});
