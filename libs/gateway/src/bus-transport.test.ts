import { randomBytes } from "node:crypto";
import { Duplex, Readable } from "node:stream";
import { Bus } from "@atoll/bus";
import { until } from "@atoll/devkit";
import { KubeClient, readBody } from "@atoll/kube";
import { KubeSim } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentUnavailableError, BusProxyClient, ProxyResponder } from "./bus-transport.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const tuning = { window: 2, chunkBytes: 1024, keepaliveMs: 100, idleTimeoutMs: 800 };

async function collect(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

describe("the gateway over the bus", () => {
  const prefix = `gw${randomBytes(4).toString("hex")}`;
  const sim = new KubeSim({ name: "gw-a" });
  let hub: Bus;
  let agentBus: Bus;
  let responder: ProxyResponder;
  let client: BusProxyClient;
  let direct: KubeClient;

  beforeAll(async () => {
    await sim.start();
    for (let i = 0; i < 40; i++)
      sim.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${i}`, namespace: "default" },
        data: { text: "x".repeat(200) },
      });
    sim.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default" },
      spec: { containers: [{ name: "app" }] },
    });
    sim.writeLog("default", "web", "first line");
    direct = KubeClient.fromKubeconfig(sim.kubeconfig());
    hub = await Bus.connect({ url: NATS_URL, name: "gw-hub", prefix, logger: silentLogger() });
    agentBus = await Bus.connect({ url: NATS_URL, name: "gw-agent", prefix, logger: silentLogger() });
    responder = new ProxyResponder({
      bus: agentBus,
      cluster: "gw-a",
      client: direct,
      logger: silentLogger(),
      tuning,
    }).start();
    await agentBus.nc.flush();
    client = new BusProxyClient(hub, { tuning, acceptTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await responder?.stop();
    await agentBus?.close();
    await hub?.close();
    await sim.stop();
  });

  const get = (path: string, headers: { name: string; values: string[] }[] = []) =>
    client.call("gw-a", { method: "GET", path, headers, body: new Uint8Array(), timeoutMs: 5000 });

  it("returns what the API server returns, across many credited chunks", async () => {
    const path = "/api/v1/namespaces/default/configmaps";
    const expected = await readBody(await direct.stream({ path }));
    const reply = await get(path);
    expect(reply.status).toBe(200);
    expect(reply.headers).toContainEqual({ name: "content-type", values: ["application/json"] });
    const text = await collect(reply.body);
    expect(text.length).toBeGreaterThan(tuning.chunkBytes * tuning.window * 4);
    expect(JSON.parse(text).items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(
      JSON.parse(expected).items.map((i: { metadata: { name: string } }) => i.metadata.name),
    );
  });

  it("sends no more than its credit ahead of a reader that does not read", async () => {
    const seen: string[] = [];
    const counter = hub.nc.subscribe(hub.names.proxyReplies("gw-a"), {
      callback: (_error, message) => {
        if (message.data.length >= tuning.chunkBytes) seen.push(message.subject);
      },
    });
    const reply = await get("/api/v1/namespaces/default/configmaps");
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The first message has only the status; the window's worth of body chunks may follow it.
    expect(seen.length).toBeLessThanOrEqual(tuning.window);
    const text = await collect(reply.body);
    expect(text.length).toBeGreaterThan(tuning.chunkBytes * tuning.window * 4);
    expect(seen.length).toBeGreaterThan(tuning.window * 4);
    counter.unsubscribe();
  });

  it("keeps a followed log open, streams new lines, and stops the agent when the caller hangs up", async () => {
    const reply = await get("/api/v1/namespaces/default/pods/web/log?follow=true");
    const iterator = reply.body[Symbol.asyncIterator]();
    expect(Buffer.from((await iterator.next()).value as Uint8Array).toString()).toBe("first line\n");
    // Longer than the idle timeout: keepalives hold the idle stream open.
    await new Promise((resolve) => setTimeout(resolve, tuning.idleTimeoutMs * 1.5));
    sim.writeLog("default", "web", "second line");
    expect(Buffer.from((await iterator.next()).value as Uint8Array).toString()).toBe("second line\n");
    expect(responder.active).toBe(1);
    reply.cancel();
    // The reader hears at once that nothing more will come, rather than waiting out the silence.
    await expect(iterator.next()).rejects.toThrow(/was closed/);
    await until(() => responder.active === 0, "the agent to end the cancelled stream");
  });

  it("gives a stream up when the hub goes away without a word", async () => {
    const gone = await Bus.connect({ url: NATS_URL, name: "gw-hub-2", prefix, logger: silentLogger() });
    const reply = await new BusProxyClient(gone, { tuning }).call("gw-a", {
      method: "GET",
      path: "/api/v1/namespaces/default/configmaps?watch=true",
      headers: [],
      body: new Uint8Array(),
      timeoutMs: 0,
    });
    expect(reply.status).toBe(200);
    expect(responder.active).toBe(1);
    await gone.nc.close();
    await until(() => responder.active === 0, "the agent to notice the silent hub");
  });

  it("impersonates the caller and drops identity headers the caller sent", async () => {
    const reply = await client.call("gw-a", {
      method: "GET",
      path: "/api/v1/namespaces/default/configmaps/cm-1",
      headers: [
        { name: "Impersonate-User", values: ["system:admin"] },
        { name: "authorization", values: ["Bearer stolen"] },
      ],
      body: new Uint8Array(),
      identity: { user: "atoll:alice", groups: ["atoll:authenticated", "atoll:role:dev"] },
      timeoutMs: 5000,
    });
    await collect(reply.body);
    expect(sim.requests.at(-1)).toMatchObject({
      user: "atoll:alice",
      groups: ["atoll:authenticated", "atoll:role:dev"],
      impersonated: true,
    });
  });

  it("waits past the agent's keepalives for the head when the API server is slow to answer", async () => {
    const slow = new ProxyResponder({
      bus: agentBus,
      cluster: "gw-slow",
      // Only stream is called for a plain request; it answers after several keepalive periods.
      client: {
        stream: async () => {
          await new Promise((resolve) => setTimeout(resolve, tuning.keepaliveMs * 4));
          return Object.assign(Readable.from([Buffer.from("late but whole")]), {
            statusCode: 200,
            headers: { "content-type": "text/plain" },
          });
        },
      } as unknown as KubeClient,
      logger: silentLogger(),
      tuning,
    }).start();
    try {
      await agentBus.nc.flush();
      const reply = await client.call("gw-slow", {
        method: "GET",
        path: "/api/v1/namespaces/default/configmaps",
        headers: [],
        body: new Uint8Array(),
        timeoutMs: 5000,
      });
      expect(reply.status).toBe(200);
      expect(await collect(reply.body)).toBe("late but whole");
    } finally {
      await slow.stop();
    }
  });

  it("carries a request body larger than one bus message in chunks after the request", async () => {
    const big = "b".repeat(client.maxInlineBodyBytes + 300_000);
    const body = new TextEncoder().encode(
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "big" }, data: { big } }),
    );
    const reply = await client.call("gw-a", {
      method: "POST",
      path: "/api/v1/namespaces/default/configmaps",
      headers: [{ name: "content-type", values: ["application/json"] }],
      body,
      timeoutMs: 10_000,
    });
    await collect(reply.body);
    expect(reply.status).toBe(201);
    const stored = sim.store.get(sim.store.findType("", "v1", "configmaps")!, "default", "big");
    expect(stored.data.big).toHaveLength(big.length);
  });

  it("says plainly when no agent of the cluster is connected", async () => {
    const error = await client
      .call("gw-offline", {
        method: "GET",
        path: "/api/v1/pods",
        headers: [],
        body: new Uint8Array(),
        timeoutMs: 1000,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentUnavailableError);
    expect((error as Error).message).toMatch(/no agent of cluster "gw-offline" is connected/);
  });

  it("refuses more replies than it may serve at once, and serves again once one ends", async () => {
    const busy = new ProxyResponder({
      bus: agentBus,
      cluster: "gw-busy",
      client: direct,
      logger: silentLogger(),
      tuning,
      maxConcurrent: 1,
    }).start();
    try {
      await agentBus.nc.flush();
      const call = () =>
        client.call("gw-busy", {
          method: "GET",
          path: "/api/v1/namespaces/default/configmaps?watch=true",
          headers: [],
          body: new Uint8Array(),
          timeoutMs: 0,
        });
      const first = await call();
      const second = await call();
      expect(second.status).toBe(503);
      expect(JSON.parse(await collect(second.body)).message).toMatch(/already serving 1 gateway requests/);
      first.cancel();
      await until(() => busy.active === 0, "the first watch to end");
      const third = await call();
      expect(third.status).toBe(200);
      third.cancel();
    } finally {
      await busy.stop();
    }
  });

  it("answers a malformed path and an exec with a Status, without touching the API server", async () => {
    const before = sim.requests.length;
    const malformed = await get("/api/v1/namespaces/../secrets");
    expect(malformed.status).toBe(400);
    expect(JSON.parse(await collect(malformed.body)).message).toMatch(/"\.\." segment/);
    const exec = await get("/api/v1/namespaces/default/pods/web/exec?command=sh");
    expect(exec.status).toBe(400);
    expect(JSON.parse(await collect(exec.body)).message).toMatch(/needs a connection upgrade/);
    expect(sim.requests.length).toBe(before);
  });

  it("carries an upgraded connection both ways, the caller's bytes held to the agent's credit", async () => {
    const upstream = new HeldEcho();
    const upgrading = new ProxyResponder({
      bus: agentBus,
      cluster: "gw-up",
      // Only upgrade is called on an upgrade request; the API server's side is the held echo.
      client: {
        upgrade: async () => ({
          switched: true,
          response: {
            statusCode: 101,
            rawHeaders: ["Connection", "Upgrade", "Upgrade", "SPDY/3.1"],
            headers: {},
          },
          socket: upstream,
          head: Buffer.alloc(0),
        }),
      } as unknown as KubeClient,
      logger: silentLogger(),
      tuning,
    }).start();
    const pieces: number[] = [];
    const counter = hub.nc.subscribe(hub.names.proxyControl("gw-up"), {
      callback: (_error, message) => {
        if (message.data.length >= tuning.chunkBytes) pieces.push(message.data.length);
      },
    });
    try {
      await agentBus.nc.flush();
      const reply = await client.call("gw-up", {
        method: "POST",
        path: "/api/v1/namespaces/default/pods/web/portforward",
        headers: [],
        body: new Uint8Array(),
        timeoutMs: 0,
        upgrade: true,
      });
      expect(reply.status).toBe(101);
      expect(reply.headers).toContainEqual({ name: "Upgrade", values: ["SPDY/3.1"] });
      const sent = randomBytes(tuning.chunkBytes * 10);
      const writing = reply.upstream!.write(sent);
      // The API server takes nothing yet: only a window of pieces may be on their way.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(pieces.length).toBe(tuning.window);
      upstream.release();
      await writing;
      reply.upstream!.end();
      const echoed: Uint8Array[] = [];
      for await (const chunk of reply.body) echoed.push(chunk);
      expect(Buffer.concat(echoed).equals(sent)).toBe(true);
      expect(pieces.length).toBe(10);
      await until(() => upgrading.active === 0, "the agent to end the finished connection");
    } finally {
      counter.unsubscribe();
      await upgrading.stop();
    }
  });
});

/** An API server's end of an upgraded connection that echoes, but takes nothing until released. */
class HeldEcho extends Duplex {
  private held: (() => void)[] = [];
  private holding = true;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const take = () => {
      this.push(chunk);
      done();
    };
    if (this.holding) this.held.push(take);
    else take();
  }

  override _final(done: () => void): void {
    this.push(null);
    done();
  }

  release(): void {
    this.holding = false;
    for (const take of this.held.splice(0)) take();
  }
}
