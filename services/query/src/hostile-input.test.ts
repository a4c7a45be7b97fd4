import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Bus } from "@atoll/bus";
import { silentLogger } from "@atoll/log";
import { ClusterRegistry } from "@atoll/registry";
import { applyIndexOps, registerCluster } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testQueryApp } from "./test-app.js";

const ADMIN = "bootstrap-admin-token-for-hostile-tests";
const STALL_LIMIT_MS = 200;

/** Texts that have broken parsers somewhere: nesting, size, aliases, encodings, injections. */
function hostileTexts(): string[] {
  const nested = (open: string, close: string, depth: number) => open.repeat(depth) + close.repeat(depth);
  const anchors = Array.from({ length: 12 }, (_, i) =>
    i === 0
      ? 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
      : `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(",")}]`,
  ).join("\n");
  return [
    // YAML bombs: nested complex keys (seconds per kilobyte in an unguarded parser), a billion laughs, alias storms.
    `${"{? ".repeat(360)}x${"}".repeat(360)}`,
    `${"{? ".repeat(800)}x${"}".repeat(800)}`,
    "[".repeat(40_000),
    "{".repeat(40_000),
    anchors,
    `base: &b {x: 1}\nrefs: [${Array(20_000).fill("*b").join(",")}]`,
    `${"- ".repeat(5_000)}x`,
    `${Array.from({ length: 2_000 }, (_, i) => `k${i}: &k${i} v`).join("\n")}`,
    `a: !!binary |\n  ${"QUFBQQ==".repeat(1000)}`,
    "a: !!js/function 'function(){ while(true){} }'",
    "%YAML 9.9\n---\na: 1",
    // JSON-ish and sheer size.
    nested("[", "]", 20_000),
    nested('{"a":', "}", 5_000).replace(/}$/, "1}"),
    "x".repeat(300_000),
    // Just within the 1 MiB a request may carry: the largest input the hub parses.
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  k: ${"v".repeat(1024 * 1024 - 80)}`,
    // Encodings and control characters.
    "\u0000\u0001\u0002",
    "\uFEFFapiVersion: v1",
    "\uD800\uDC00\uD800",
    "𝒜𝓉ℴ𝓁𝓁 日本語 ﷽ ‮evil",
    "%00%C0%AF%E0%80%AF",
    // Injections.
    "'; DROP TABLE resources; --",
    "SELECT * FROM resources UNION SELECT * FROM api_tokens",
    "SELECT * FROM resources WHERE pg_sleep(10) IS NULL",
    "kind:Pod name:*'; select 1; --*",
    "app in ((((((((((((((((((((x",
    "a".repeat(100) + "(".repeat(5_000),
    "age<99999999999999999999999d",
    "labels.app=~(a+)+$",
    `pods not running in cluster ${"very ".repeat(5_000)}`,
  ];
}

/** Every endpoint that takes user text, with the text placed where that endpoint reads it. */
function requests(text: string): InjectOptions[] {
  // A URL cannot carry a lone surrogate; bodies, which can, get the text as it is.
  const q = encodeURIComponent(text.slice(0, 60_000).replace(/[\uD800-\uDFFF]/g, "\uFFFD"));
  const yaml = { "content-type": "application/yaml" };
  const json = { "content-type": "application/json" };
  return [
    { url: `/api/v1/search?mode=sql&q=${q}` },
    { url: `/api/v1/search?mode=keyword&q=${q}` },
    { url: `/api/v1/search?mode=nl&q=${q}` },
    { url: `/api/v1/search?q=x&continue=${q}&limit=${q}` },
    { url: `/api/v1/resources?labelSelector=${q}&name=${q}&q=${q}&namespace=${q}` },
    { url: `/k8s/all/api/v1/pods?labelSelector=${q}&fieldSelector=${q}` },
    { url: `/k8s/all/api/v1/namespaces/${q}/pods/${q}` },
    { url: `/k8s/all/api/v1/pods?watch=1&timeoutSeconds=1&resourceVersion=${q}&labelSelector=${q}` },
    { url: `/k8s/all/api/v1/pods?watch=1&timeoutSeconds=${q}` },
    { url: `/k8s/${q}/apis/${q}/v1/${q}` },
    { method: "POST", url: "/api/v1/apply", headers: yaml, payload: text },
    { method: "POST", url: "/api/v1/delete", headers: yaml, payload: text },
    {
      method: "POST",
      url: `/api/v1/apply?namespace=${q}`,
      headers: json,
      payload: JSON.stringify({ documents: text }),
    },
    { method: "POST", url: "/api/v1/insight/ai/interpret", headers: yaml, payload: text },
    {
      method: "POST",
      url: "/api/v1/insight/ai/interpret",
      headers: json,
      payload: JSON.stringify({ yaml: text }),
    },
    {
      method: "POST",
      url: "/api/v1/insight/ai/diagnose",
      headers: json,
      payload: JSON.stringify({ object: text }),
    },
    { method: "POST", url: "/api/v1/insight/ai/interpret", headers: json, payload: text },
    {
      method: "POST",
      url: "/api/v1/clusters",
      headers: json,
      payload: JSON.stringify({ mode: "pull", name: text, labels: { [text]: text } }),
    },
    { method: "POST", url: "/api/v1/clusters", headers: json, payload: text },
    {
      method: "PATCH",
      url: `/api/v1/clusters/${q}`,
      headers: json,
      payload: JSON.stringify({ syncRules: text, taints: [text] }),
    },
    {
      method: "PATCH",
      url: "/api/v1/clusters/known",
      headers: json,
      payload: JSON.stringify({ syncRules: text }),
    },
    {
      method: "PUT",
      url: `/api/v1/roles/${q}`,
      headers: json,
      payload: JSON.stringify({ grants: [{ verbs: [text], clusters: [text] }] }),
    },
    { method: "PUT", url: "/api/v1/roles/hostile", headers: json, payload: text },
    {
      method: "POST",
      url: "/api/v1/tokens",
      headers: json,
      payload: JSON.stringify({ name: text, role: text, expiresIn: text }),
    },
    { method: "DELETE", url: `/api/v1/tokens/${q}` },
    { url: `/api/v1/bindings/${q}/${q}` },
    { url: `/api/v1/bindings?namespace=${q}&limit=${q}&continue=${q}` },
    { url: `/api/v1/insight/topology?cluster=${q}&namespace=${q}&kind=${q}&name=${q}` },
    { url: `/api/v1/issues?q=${q}&severity=${q}` },
    { url: `/api/v1/gateway/audit?user=${q}&since=${q}&limit=${q}&continue=${q}` },
    { url: `/proxy/clusters/${q}/api/v1/namespaces/${q}/pods` },
    // The MCP server: the text as each kind of tool argument, and as the message itself.
    ...[
      { name: "search", arguments: { query: text, mode: "nl" } },
      { name: "search", arguments: { query: text, mode: "sql", continue: text } },
      { name: "list_bindings", arguments: { namespace: text, continue: text } },
      { name: "get_object", arguments: { cluster: text, kind: text, name: text } },
      { name: "gateway_get", arguments: { cluster: "known", path: text, query: { labelSelector: text } } },
      { name: "apply", arguments: { documents: text } },
    ].map((params, id) => ({
      method: "POST" as const,
      url: "/mcp",
      headers: { ...json, accept: "application/json, text/event-stream" },
      payload: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }),
    })),
    {
      method: "POST",
      url: "/mcp",
      headers: { ...json, accept: "application/json, text/event-stream" },
      payload: text,
    },
    {
      method: "POST",
      url: `/proxy/clusters/known/api/v1/namespaces/${q}/configmaps`,
      headers: json,
      payload: text,
    },
  ];
}

/** Protocol abuse that is not about one text. */
const PROTOCOL: InjectOptions[] = [
  { method: "POST", url: "/api/v1/apply", headers: { "content-type": "application/json" }, payload: "{" },
  {
    method: "POST",
    url: "/api/v1/apply",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: "a=b",
  },
  {
    method: "POST",
    url: "/api/v1/apply",
    headers: { "content-type": "application/yaml" },
    payload: "a".repeat(6 * 1024 * 1024),
  },
  {
    method: "POST",
    url: "/api/v1/apply",
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
    payload: "xx",
  },
  { method: "GET", url: "/api/v1/search?q=a&q=b&mode=sql&mode=nl" },
  { method: "GET", url: "/api/v1/../../etc/passwd" },
  { method: "GET", url: "/proxy/clusters/%2e%2e/%2e%2e/api/v1/pods" },
  { method: "GET", url: "/k8s/all/api/v1/namespaces/%25zz/pods" },
  { method: "GET", url: "/k8s/all/api/v1/pods?watch=1&timeoutSeconds=1&fieldSelector=spec.x%3D1" },
  { method: "GET", url: "/k8s/all/api/v1/pods?watch=1&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dn1" },
  { method: "GET", url: `/api/v1/search?q=${"%".repeat(999)}` },
  { method: "OPTIONS", url: "/api/v1/search" },
  { method: "PROPFIND" as never, url: "/api/v1/search" },
  { method: "GET", url: "/api/v1/search", headers: { authorization: `Bearer ${"x".repeat(100_000)}` } },
  { method: "GET", url: "/api/v1/search", headers: { authorization: "Bearer \u0000" } },
];

describe("hostile input to every endpoint that takes user text", () => {
  const handle = suiteDatabase("hostile");
  let bus: Bus;

  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "hostile-input-test",
      prefix: `t${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
    await registerCluster(handle.sql, { name: "known", syncMode: "pull" });
    // One indexed Pod, so the Kubernetes API serves pods and reads every selector it is sent.
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default", uid: "uid-web", labels: { app: "web" } },
      spec: { nodeName: "n1" },
      status: { phase: "Running" },
    };
    await applyIndexOps(handle.sql, [
      {
        op: "upsert",
        row: {
          cluster: "known",
          uid: "uid-web",
          apiGroup: "",
          apiVersion: "v1",
          kind: "Pod",
          resource: "pods",
          namespace: "default",
          name: "web",
          resourceVersion: 1n,
          syncId: "s1",
          objectJson: JSON.stringify(pod),
        },
      },
    ]);
  });
  afterAll(async () => {
    await bus.removeTopology();
    await bus.close();
  });

  const app = () =>
    testQueryApp(handle, {
      auth: { adminToken: ADMIN },
      bus,
      registry: new ClusterRegistry({
        sql: handle.sql,
        bus,
        agentNatsUrl: "nats://hub:4222",
        agentImage: "atoll/agent",
      }),
    });

  it("answers every input with a 2xx or a 4xx, never a 5xx, and never freezes the event loop", async () => {
    const server = app();
    await server.ready();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const send = async (request: InjectOptions) => {
      const response = await server.inject({
        ...request,
        headers: { authorization: `Bearer ${ADMIN}`, ...(request.headers as Record<string, string>) },
      });
      sent++;
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (response.statusCode >= 500)
        failures.push(
          `${request.method ?? "GET"} ${String(request.url).slice(0, 120)} → ${response.statusCode} ${response.body.slice(0, 200)}`,
        );
      // A problem (the API's) or a Status (the Kubernetes API's) that says what went wrong.
      else if (response.statusCode >= 400)
        expect(JSON.stringify(response.json())).toMatch(/"(detail|message)":"[^"]+/);
    };
    // The inputs are built before the loop is watched: only the server's work counts.
    const all = [...hostileTexts().flatMap(requests), ...PROTOCOL];
    delay.enable();
    for (const request of all) {
      await send(request);
      // Requests from a real client come through the socket, and timers run between them; inject
      // chains them through microtasks, which would count several requests' work as one stall.
      await new Promise((resolve) => setImmediate(resolve));
    }
    delay.disable();
    // biome-ignore lint/suspicious/noConsole: the count of inputs sent is part of the suite's report
    console.info(
      `hostile-input: ${sent} requests, statuses ${JSON.stringify([...statuses].sort())}, event-loop delay p99 ${Math.round(delay.percentile(99) / 1e6)} ms, longest ${Math.round(delay.max / 1e6)} ms`,
    );
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(900);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    // Every input is refused or answered within its bounds, none with the seconds-long freezes
    // hostile YAML used to cause; YAML past 32 KiB is read on a worker thread. The package's test
    // script runs this file on its own: other suites' work on the same two cores would count as
    // this loop's delay.
    expect(delay.max / 1e6).toBeLessThan(STALL_LIMIT_MS);
  }, 600_000);

  it("refuses a gateway upgrade to a malformed or unknown cluster with a 4xx", async () => {
    const server = app();
    await server.listen({ port: 0, host: "127.0.0.1" });
    const port = (server.server.address() as { port: number }).port;
    try {
      for (const cluster of ["%ZZ", "..%2F..", "a".repeat(300), "known", "Bad_Name!", "%00"]) {
        const status = await new Promise<number>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () =>
            socket.write(
              `GET /proxy/clusters/${cluster}/api/v1/namespaces/default/pods/web/exec?command=sh HTTP/1.1\r\n` +
                `Host: x\r\nAuthorization: Bearer ${ADMIN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            ),
          );
          let answer = "";
          socket.on("data", (chunk) => {
            answer += chunk.toString();
            const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
            if (match) {
              socket.destroy();
              resolve(Number(match[1]));
            }
          });
          socket.on("error", reject);
        });
        expect(status, `upgrade to cluster ${cluster}`).toBeGreaterThanOrEqual(400);
        // A registered pull cluster with no agent listening is unavailable; anything else is the caller's mistake.
        if (cluster === "known") expect([502, 503, 504]).toContain(status);
        else expect(status, `upgrade to cluster ${cluster}`).toBeLessThan(500);
      }
    } finally {
      await server.close();
    }
  });
});
