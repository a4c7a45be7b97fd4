import { join } from "node:path";
import { serviceEntry } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { MAX_OUTPUT_CHARS } from "@atoll/mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: tool answers are loose YAML
type Any = any;

const NAMESPACES = ["default", "web"];

/**
 * The MCP server as an AI agent meets it: `atoll mcp` over stdio and /mcp over streamable HTTP, on
 * a hub whose agent watches a simulated cluster, under two roles. The index and the live gateway
 * answer within the same grants on both transports.
 */
describe("MCP over stdio and streamable HTTP, on a real hub", () => {
  const hub = new TestHub();
  const sim = new KubeSim({ name: "mcp-1", token: "t-mcp" });
  const tokens: Record<string, string> = {};
  const clients: Client[] = [];

  type Transport = "stdio" | "http";
  async function connect(transport: Transport, token: string): Promise<Client> {
    const client = new Client({ name: "e2e", version: "1.0.0" });
    if (transport === "stdio")
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [
            serviceEntry("@atoll/cli"),
            "mcp",
            "--hub",
            hub.baseUrl,
            "--token",
            token,
            "--ca-file",
            join(hub.dir, "query.crt"),
          ],
          stderr: "ignore",
        }),
      );
    else {
      const dispatcher = new Agent({ connect: { ca: hub.tls.cert } });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${hub.baseUrl}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
          fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as never,
        }),
      );
    }
    clients.push(client);
    return client;
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
    const result = (await client.callTool({ name, arguments: args })) as {
      content: { text: string }[];
      isError?: boolean;
    };
    const text = result.content.map((c) => c.text).join("");
    expect(text.length).toBeLessThanOrEqual(MAX_OUTPUT_CHARS);
    return {
      text,
      isError: result.isError ?? false,
      data: result.isError ? undefined : (parse(text) as Any),
    };
  }

  /** The sim's pods, from the sim itself: the oracle. */
  const podsIn = (namespaces: string[]) => {
    const pods = sim.store.findType("", "v1", "pods")!;
    return sim.store
      .list(pods)
      .map(({ object }) => object.metadata as { namespace: string; name: string })
      .filter((m) => namespaces.includes(m.namespace))
      .map((m) => `${m.namespace}/${m.name}`)
      .sort();
  };

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, { seed: 11, namespaces: NAMESPACES, deploymentsPerNamespace: 2, nodes: 1 });
    await hub.start();
    await hub.registerPull([sim]);
    await hub.waitIndexed(sim);
    const grants = [{ verbs: ["read", "proxy-read"], namespaces: ["web"] }];
    expect((await hub.send("PUT", "/api/v1/roles/web-reader", { grants })).status).toBe(200);
    tokens["web-reader"] = (
      await hub.send("POST", "/api/v1/tokens", { name: "web-agent", role: "web-reader" })
    ).body.token;
    tokens.admin = hub.adminToken;
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await hub.stop();
    await sim.stop();
  });

  for (const transport of ["stdio", "http"] as const)
    for (const role of ["admin", "web-reader"])
      it(`${transport}, as ${role}: the index and the live cluster, within the grants`, async () => {
        const client = await connect(transport, tokens[role]!);
        const namespaces = role === "admin" ? NAMESPACES : ["web"];
        const tools = (await client.listTools()).tools.map((t) => t.name);
        expect(tools).toContain("search");
        expect(tools.includes("apply")).toBe(role === "admin");

        const search = await call(client, "search", { query: "kind:Pod", limit: 100 });
        expect(search.data.total).toBe(podsIn(namespaces).length);
        expect(search.data.items.map((i: Any) => `${i.namespace}/${i.name}`).sort()).toEqual(
          podsIn(namespaces),
        );

        const [first] = podsIn(["default"]);
        const [namespace, name] = first!.split("/");
        const object = await call(client, "get_object", { cluster: sim.name, kind: "Pod", namespace, name });
        expect(object.isError).toBe(role !== "admin");
        if (role === "admin") expect(object.data.object.metadata.name).toBe(name);

        // Live, through the gateway and the cluster's agent.
        const web = await call(client, "gateway_get", {
          cluster: sim.name,
          path: "/api/v1/namespaces/web/pods",
        });
        expect(web.isError, web.text).toBe(false);
        expect(web.data.items.map((p: Any) => `web/${p.metadata.name}`).sort()).toEqual(podsIn(["web"]));
        const other = await call(client, "gateway_get", {
          cluster: sim.name,
          path: "/api/v1/namespaces/default/pods",
        });
        expect(other.isError, other.text).toBe(role !== "admin");
        if (role !== "admin") expect(other.text).toMatch(/403/);
      });

  it("stdio: refuses to start with a token the hub does not know, saying so", async () => {
    await expect(connect("stdio", "atoll_000000000000_not-a-real-secret-at-all")).rejects.toThrow();
  });
});
