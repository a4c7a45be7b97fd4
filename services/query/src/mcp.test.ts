import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import { silentLogger } from "@atoll/log";
import { MAX_OUTPUT_CHARS } from "@atoll/mcp";
import {
  applyIndexOps,
  indexQueuedBindings,
  type ObjectRow,
  recordIssues,
  registerCluster,
  saveBinding,
} from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { testQueryApp } from "./test-app.js";

// biome-ignore lint/suspicious/noExplicitAny: tool answers are loose YAML
type Any = any;

const ADMIN = "bootstrap-admin-token-for-mcp-tests";
const CLUSTERS = ["c1", "c2"];
const NAMESPACES = ["a", "b"];

interface Fixture {
  cluster: string;
  namespace: string;
  kind: "Pod" | "Deployment";
  name: string;
}

const FIXTURES: Fixture[] = CLUSTERS.flatMap((cluster) =>
  NAMESPACES.flatMap((namespace) =>
    (["Pod", "Deployment"] as const).flatMap((kind) =>
      [1, 2, 3].map((n) => ({ cluster, namespace, kind, name: `${namespace}-${kind.toLowerCase()}-${n}` })),
    ),
  ),
);

/** A ConfigMap far larger than a tool answer may be. */
const HUGE = { cluster: "c1", namespace: "a", name: "huge" };

function row(f: Fixture): ObjectRow {
  const apps = f.kind === "Deployment";
  return {
    cluster: f.cluster,
    uid: `uid-${f.cluster}-${f.name}`,
    apiGroup: apps ? "apps" : "",
    apiVersion: "v1",
    kind: f.kind,
    resource: `${f.kind.toLowerCase()}s`,
    namespace: f.namespace,
    name: f.name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({
      apiVersion: apps ? "apps/v1" : "v1",
      kind: f.kind,
      metadata: {
        name: f.name,
        namespace: f.namespace,
        uid: `uid-${f.cluster}-${f.name}`,
        labels: { app: "shop" },
        ...(apps ? {} : { ownerReferences: [] }),
        creationTimestamp: "2026-01-01T00:00:00Z",
      },
      ...(apps
        ? { spec: { replicas: 2, selector: { matchLabels: { app: "shop" } } }, status: { readyReplicas: 1 } }
        : { spec: { containers: [{ name: "app", image: "shop:1" }] }, status: { phase: "Running" } }),
    }),
  };
}

/** The oracle for the namespace-limited role: what it may see, from the fixtures alone. */
const inA = (f: Fixture) => f.namespace === "a";

describe("the MCP server over streamable HTTP", () => {
  const handle = suiteDatabase("mcp");
  const tokens: Record<string, string> = {};
  let bus: Bus;
  let app: ReturnType<typeof testQueryApp>;
  let url: string;
  const clients: Client[] = [];

  async function connect(token: string | undefined): Promise<Client> {
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} },
      }),
    );
    clients.push(client);
    return client;
  }

  /** A tool's answer as text, held to the output bound every time. */
  async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
    const result = (await client.callTool({ name, arguments: args })) as {
      content: { type: string; text: string }[];
      isError?: boolean;
    };
    const text = result.content.map((c) => c.text).join("");
    expect(text.length, `${name} answered ${text.length} characters`).toBeLessThanOrEqual(MAX_OUTPUT_CHARS);
    return {
      text,
      isError: result.isError ?? false,
      data: result.isError ? undefined : (parse(text) as Any),
    };
  }

  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "mcp-test",
      prefix: `t${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
    for (const name of CLUSTERS) await registerCluster(handle.sql, { name, syncMode: "pull" });
    await applyIndexOps(handle.sql, [
      ...FIXTURES.map((f) => ({ op: "upsert" as const, row: row(f) })),
      {
        op: "upsert" as const,
        row: {
          ...row({ ...HUGE, kind: "Pod" }),
          kind: "ConfigMap",
          resource: "configmaps",
          uid: "uid-huge",
          objectJson: JSON.stringify({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: HUGE.name, namespace: HUGE.namespace, uid: "uid-huge" },
            data: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`key-${i}`, "v".repeat(1000)])),
          }),
        },
      },
    ]);
    await recordIssues(
      handle.sql,
      FIXTURES.map((f) => ({
        cluster: f.cluster,
        uid: `uid-${f.cluster}-${f.name}`,
        kind: f.kind,
        namespace: f.namespace,
        name: f.name,
        issues: [{ rule: "testRule", severity: "high", category: "Security", message: `about ${f.name}` }],
      })),
    );
    for (const namespace of NAMESPACES)
      await saveBinding(
        handle.sql,
        {
          namespace,
          name: "shop-deployment",
          apiVersion: "apps/v1",
          kind: "Deployment",
          templateName: "shop",
          uid: `template-${namespace}`,
          policy: `${namespace}/spread`,
          clusters: [{ name: "c1", replicas: 1 }],
          observedAffinity: "",
          rejected: { "not selected": ["c2"] },
          condition: "Scheduled",
          message: "placed on c1",
          evictionTasks: [],
        },
        { c1: [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "shop", namespace } }] },
      );
    // As the scheduler does a second later: the bindings are searchable as the hub's objects.
    await indexQueuedBindings(handle.sql);
    app = testQueryApp(handle, { auth: { adminToken: ADMIN }, bus });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    const roles = {
      "team-a": [{ verbs: ["read"], namespaces: ["a"] }],
      "writer-a": [{ verbs: ["read", "write"], namespaces: ["a"] }],
    };
    for (const [role, grants] of Object.entries(roles)) {
      const put = await app.inject({
        method: "PUT",
        url: `/api/v1/roles/${role}`,
        headers: { authorization: `Bearer ${ADMIN}` },
        payload: { grants },
      });
      expect(put.statusCode, put.body).toBe(200);
      const created = await app.inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: { authorization: `Bearer ${ADMIN}` },
        payload: { name: `${role}-user`, role },
      });
      expect(created.statusCode, created.body).toBe(201);
      tokens[role] = created.json().token;
    }
    tokens.admin = ADMIN;
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await app?.close();
    await bus?.close();
  });

  it("lets no one in without a valid token", async () => {
    await expect(connect(undefined)).rejects.toThrow(/401|token/i);
    await expect(connect("atoll_000000000000_not-a-real-secret-at-all")).rejects.toThrow(/401|token/i);
  });

  it("offers apply only to tokens that may write, and the API still decides where", async () => {
    const reader = await connect(tokens["team-a"]);
    const admin = await connect(tokens.admin);
    const writer = await connect(tokens["writer-a"]);
    const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
    expect(await names(reader)).not.toContain("apply");
    expect(await names(admin)).toContain("apply");
    expect(await names(writer)).toContain("apply");
    const refused = await call(reader, "apply", {
      documents: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}",
    });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/apply/);
    // A namespace-limited writer writes its namespace, and nothing outside it.
    const configMap = (namespace: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ${namespace}}\ndata: {k: v}`;
    const outside = await call(writer, "apply", { documents: configMap("b") });
    expect(outside.isError).toBe(true);
    expect(outside.text).toMatch(/403/);
    expect(outside.text).toMatch(/nothing was applied/);
    const inside = await call(writer, "apply", { documents: configMap("a") });
    expect(inside.isError, inside.text).toBe(false);
    const templates = await handle.sql`select namespace from templates where name = 'settings'`;
    expect(templates.map((t) => t.namespace)).toEqual(["a"]);
  });

  it("answers every read tool within the caller's grants", async () => {
    for (const role of ["admin", "team-a"]) {
      const client = await connect(tokens[role]);
      const sees = (f: Fixture) => role === "admin" || inA(f);
      const label = (what: string) => `${role}: ${what}`;

      // Search, in all three modes: the same rows, counts and totals as the oracle.
      const pods = FIXTURES.filter((f) => f.kind === "Pod" && sees(f));
      for (const [mode, query] of [
        ["keyword", "kind:Pod"],
        ["sql", "SELECT * FROM resources WHERE kind = 'Pod'"],
        ["nl", "all pods"],
      ] as const) {
        const { data, text } = await call(client, "search", { query, mode, limit: 100 });
        expect(data, label(`${mode} search: ${text}`)).toBeDefined();
        expect(data.total, label(mode)).toBe(pods.length);
        expect(data.sql, label(mode)).toMatch(/SELECT/i);
        expect(
          data.items.map((i: Any) => `${i.cluster}/${i.namespace}/${i.name}`).sort(),
          label(mode),
        ).toEqual(pods.map((f) => `${f.cluster}/${f.namespace}/${f.name}`).sort());
        for (const item of data.items) expect(item.phase).toBe("Running");
      }
      // Paging reaches every row the role may see, and no other: the fixtures, the large ConfigMap
      // (in namespace a), and the bindings, which the hub indexes as objects of its own.
      const everything = FIXTURES.filter(sees).length + 1 + (role === "admin" ? 2 : 1);
      const seen: string[] = [];
      let page: Any = await call(client, "search", {
        query: "SELECT * FROM resources",
        mode: "sql",
        limit: 5,
      });
      for (;;) {
        seen.push(...page.data.items.map((i: Any) => `${i.cluster}/${i.namespace}/${i.name}`));
        if (!page.data.continue) break;
        page = await call(client, "search", {
          query: "SELECT * FROM resources",
          mode: "sql",
          limit: 5,
          continue: page.data.continue,
        });
      }
      expect(new Set(seen).size, label("paged search")).toBe(everything);
      expect(seen.length, label("paged search repeats nothing")).toBe(everything);

      // One object: readable ones whole, others as if they did not exist.
      for (const f of FIXTURES.filter((f) => f.cluster === "c2" && f.kind === "Deployment")) {
        const got = await call(client, "get_object", {
          cluster: f.cluster,
          kind: f.kind,
          namespace: f.namespace,
          name: f.name,
        });
        expect(got.isError, label(`get ${f.namespace}/${f.name}`)).toBe(!sees(f));
        if (sees(f)) expect(got.data.object.metadata.name).toBe(f.name);
        else expect(got.text).toMatch(/that you may read/);
      }

      // Clusters: object counts counted within the grants.
      const clusters = (await call(client, "list_clusters")).data;
      for (const cluster of CLUSTERS) {
        const shown = clusters.clusters.find((c: Any) => c.name === cluster);
        const expected =
          FIXTURES.filter((f) => f.cluster === cluster && sees(f)).length +
          (cluster === HUGE.cluster ? 1 : 0);
        expect(shown.objects, label(`objects on ${cluster}`)).toBe(expected);
        expect(shown.nkey, label("nkey")).toBeUndefined();
      }

      // Findings, health and topology name nothing outside the grants.
      const issues = (await call(client, "list_issues", { limit: 500 })).data.items;
      expect(issues.length, label("issues")).toBe(FIXTURES.filter(sees).length);
      for (const issue of issues)
        expect(role === "admin" || issue.namespace === "a", label("issue")).toBe(true);
      const health = (await call(client, "health", { by: "namespace" })).data.items;
      expect([...new Set(health.map((h: Any) => h.namespace))].sort(), label("health")).toEqual(
        role === "admin" ? ["a", "b"] : ["a"],
      );
      const topology = (await call(client, "topology", { cluster: "c1", level: "object" })).data;
      const namespaces = new Set(topology.nodes.map((n: Any) => n.namespace));
      expect([...namespaces].sort(), label("topology")).toEqual(role === "admin" ? ["a", "b"] : ["a"]);

      // Diagnosis: of a readable object only.
      const diagnosis = await call(client, "diagnose", {
        cluster: "c1",
        kind: "Pod",
        namespace: "b",
        name: "b-pod-1",
      });
      expect(diagnosis.isError, label(`diagnose: ${diagnosis.text}`)).toBe(role !== "admin");
      if (role !== "admin") expect(diagnosis.text).toMatch(/that you may read/);

      // Placement: bindings in the grants only, explained, or not found.
      const bindings = (await call(client, "list_bindings")).data;
      expect(bindings.items.map((b: Any) => b.namespace).sort(), label("bindings")).toEqual(
        role === "admin" ? ["a", "b"] : ["a"],
      );
      const explained = await call(client, "explain_binding", { namespace: "b", name: "shop-deployment" });
      expect(explained.isError, label("explain b")).toBe(role !== "admin");
      if (role === "admin") expect(explained.data.rejected ?? explained.data.binding?.rejected).toBeDefined();

      // The gateway: this role holds no proxy grant, so to it the cluster does not exist, and no
      // cluster is asked anything.
      if (role !== "admin") {
        const live = await call(client, "gateway_get", { cluster: "c1", path: "/api/v1/namespaces/a/pods" });
        expect(live.isError).toBe(true);
        expect(live.text).toMatch(/404.*no cluster "c1" that you can reach/);
      }
      expect((await call(client, "whoami")).data.role).toBe(role === "admin" ? "admin" : role);
    }
  });

  it("keeps every answer within its bound, and says how to see the rest", async () => {
    const client = await connect(tokens.admin);
    const huge = await call(client, "get_object", {
      cluster: "c1",
      kind: "ConfigMap",
      namespace: "a",
      name: "huge",
    });
    expect(huge.isError).toBe(false);
    expect(huge.text).toMatch(/cut at \d+ of \d+ characters/);
    const many = await call(client, "search", { query: "SELECT * FROM resources", mode: "sql", limit: 100 });
    // Every row fits once summarised: the fixtures, the ConfigMap and the two bindings.
    expect(many.data.items.length).toBe(FIXTURES.length + 3);
  });

  it("answers hostile arguments with clear errors, and goes on serving", async () => {
    const client = await connect(tokens.admin);
    const hostile: [string, Record<string, unknown>, RegExp][] = [
      ["search", {}, /query/],
      ["search", { query: 42 }, /query/],
      ["search", { query: "x".repeat(20_000) }, /query/],
      ["search", { query: "kind:Pod", mode: "regex" }, /mode/],
      ["search", { query: "kind:Pod", limit: 1e9 }, /limit/],
      ["search", { query: "kind:Pod", limit: -1 }, /limit/],
      ["search", { query: "kind:Pod", continue: "not-a-cursor" }, /continue|cursor/i],
      ["search", { query: "SELECT * FROM api_tokens", mode: "sql" }, /400/],
      ["search", { query: "SELECT * FROM resources WHERE pg_sleep(10) IS NULL", mode: "sql" }, /400/],
      ["get_object", { cluster: "../c1", kind: "Pod", name: "x" }, /cluster/],
      ["get_object", { cluster: "c1", kind: "Pod", name: "a/../../b" }, /name/],
      ["get_object", { cluster: "c1", kind: "Pod", name: "a-pod-*" }, /name/],
      ["get_object", { cluster: "c1", kind: "Pod", name: "x\u0000y" }, /name/],
      ["get_object", { cluster: "c1", kind: "Pod; drop", name: "x" }, /kind/],
      ["topology", { cluster: "c1", depth: 100 }, /depth/],
      ["gateway_get", { cluster: "c1", path: "/api/v1/pods?watch=true" }, /path/],
      ["gateway_get", { cluster: "c1", path: "/api/v1/../../../etc/passwd" }, /path/],
      ["gateway_get", { cluster: "c1", path: "https://evil.example/api" }, /path/],
      ["gateway_get", { cluster: "c1", path: "/api/v1/pods", query: { watch: true } }, /watch|Unrecognized/i],
      [
        "gateway_get",
        { cluster: "c1", path: "/api/v1/pods", query: { follow: true } },
        /follow|Unrecognized/i,
      ],
      ["list_issues", { severity: "apocalyptic" }, /severity/],
      ["explain_binding", { namespace: "A B", name: "x" }, /namespace/],
      ["search", { query: "kind:Pod", extra: Array.from({ length: 10_000 }, (_, i) => i) }, /maximum/],
      ["no_such_tool", {}, /not found/],
    ];
    for (const [tool, args, message] of hostile) {
      const answer = await call(client, tool, args);
      expect(answer.isError, `${tool} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
      expect(answer.text, `${tool} ${JSON.stringify(args).slice(0, 80)}`).toMatch(message);
      expect(answer.text).not.toMatch(/\n\s+at /);
    }
    // Nesting is counted, not walked to the end (deeper nesting, which no client can even encode, is
    // sent raw in the next test).
    const deep: Any = {};
    let cursor = deep;
    for (let i = 0; i < 1_000; i++) cursor = cursor.next = {};
    const nested = await call(client, "whoami", { deep });
    expect(nested.isError).toBe(true);
    expect(nested.text).toMatch(/maximum/);
    expect((await call(client, "whoami")).data.role).toBe("admin");
  });

  it("answers HTTP misuse of the endpoint with a clear 4xx", async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    const post = (payload: string, headers: Record<string, string> = {}) =>
      app.inject({
        method: "POST",
        url: "/mcp",
        headers: {
          ...auth,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        payload,
      });
    expect((await app.inject({ method: "GET", url: "/mcp", headers: auth })).statusCode).toBe(405);
    expect((await app.inject({ method: "DELETE", url: "/mcp", headers: auth })).statusCode).toBe(405);
    expect((await post("{")).statusCode).toBe(400);
    expect((await post(JSON.stringify({ x: "y".repeat(5 * 1024 * 1024) }))).statusCode).toBe(413);
    expect((await post("[".repeat(200_000))).statusCode).toBe(400);
    const depth = 200_000;
    const deep = await post(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"deep":${'{"n":'.repeat(depth)}1${"}".repeat(depth)}}}}`,
    );
    expect(deep.statusCode, deep.body.slice(0, 300)).toBe(200);
    expect(deep.json()).toMatchObject({ result: { isError: true } });
    expect(deep.json().result.content[0].text).toMatch(/maximum/);
    const notRpc = await post(JSON.stringify({ hello: "world" }));
    expect(notRpc.statusCode).toBe(400);
    expect((await app.inject({ method: "POST", url: "/mcp", payload: "{}" })).statusCode).toBe(401);
  });
});
