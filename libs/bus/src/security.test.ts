import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecFor, create, PlacementRequestSchema } from "@atoll/contracts";
import { findExecutable, freePort, type NatsServerProcess, startNatsServer, until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bus, BusAuthError } from "./bus.js";
import { busNames } from "./names.js";
import { agentPermissions, renderServerConfig } from "./security.js";

const codec = codecFor(PlacementRequestSchema);
const seedOf = (pair: ReturnType<typeof createUser>) => new TextDecoder().decode(pair.getSeed());

describe("per-cluster NATS identities", () => {
  const names = busNames("");
  const hubKey = createUser();
  const keyA = createUser();
  const keyB = createUser();
  let server: NatsServerProcess;
  const storeRoot = mkdtempSync(join(tmpdir(), "atoll-sec-"));
  let hub: Bus;
  let agentA: Bus;
  const errors: string[] = [];

  const agent = (cluster: string, seed: string) =>
    Bus.connect({
      url: server.url,
      name: `agent/${cluster}`,
      nkeySeed: seed,
      inboxPrefix: names.inboxPrefix(cluster),
      logger: silentLogger(),
    });

  beforeAll(async () => {
    const port = await freePort();
    server = await startNatsServer({
      port,
      config: renderServerConfig({
        port,
        host: "127.0.0.1",
        storeDir: join(storeRoot, "js"),
        identities: [
          { nkey: hubKey.getPublicKey(), description: "hub" },
          {
            nkey: keyA.getPublicKey(),
            description: "cluster sim-a",
            permissions: agentPermissions(names, "sim-a"),
          },
          {
            nkey: keyB.getPublicKey(),
            description: "cluster sim-b",
            permissions: agentPermissions(names, "sim-b"),
          },
        ],
      }),
    });
    hub = await Bus.connect({
      url: server.url,
      name: "hub",
      nkeySeed: seedOf(hubKey),
      logger: silentLogger(),
    });
    await hub.ensureTopology();
    for (const cluster of ["sim-a", "sim-b"]) {
      await hub.ensureWorkConsumer(cluster);
      await hub.publish(
        names.work(cluster),
        codec,
        create(PlacementRequestSchema, { name: `work-for-${cluster}` }),
        `w-${cluster}`,
      );
    }
    agentA = await agent("sim-a", seedOf(keyA));
    void (async () => {
      for await (const status of agentA.nc.status())
        if (status.type === "error") errors.push(String(status.error));
    })();
  });
  afterAll(async () => {
    await agentA?.close();
    await hub?.close();
    await server?.stop();
    rmSync(storeRoot, { recursive: true, force: true });
  });

  it("lets an agent publish its own events and heartbeat", async () => {
    const ack = await agentA.publish(
      names.resources("sim-a"),
      codec,
      create(PlacementRequestSchema, { name: "mine" }),
      "a-1",
    );
    expect(ack.stream).toBe(names.streams.resources);
    await agentA.putHeartbeat("sim-a", new Uint8Array([1]));
    const kv = await hub.clusters();
    expect((await kv.get("sim-a"))?.value).toEqual(new Uint8Array([1]));
  });

  it("refuses an agent publishing as another cluster", async () => {
    const attempt = agentA.publish(
      names.resources("sim-b"),
      codec,
      create(PlacementRequestSchema, { name: "forged" }),
      "a-forged",
    );
    await expect(attempt).rejects.toThrow();
    await expect(agentA.putHeartbeat("sim-b", new Uint8Array([9]))).rejects.toThrow();
    await until(
      () => errors.some((e) => /Permissions Violation for Publish to "atoll\.v1\.res\.sim-b"/.test(e)),
      "the server's permission error",
    );
    const info = await hub.jsm.streams.info(names.streams.resources, { subjects_filter: ">" });
    expect(info.state.subjects?.[names.resources("sim-b")]).toBeUndefined();
    const kv = await hub.clusters();
    expect(await kv.get("sim-b")).toBeNull();
  });

  it("lets an agent pull its own work but not another cluster's", async () => {
    const mine = await agentA.js.consumers.get(names.streams.work, names.workConsumer("sim-a"));
    const message = await mine.next({ expires: 2000 });
    expect(message && codec.decode(message.data).name).toBe("work-for-sim-a");
    message?.ack();
    const theirs = agentA.js.consumers
      .get(names.streams.work, names.workConsumer("sim-b"))
      .then((c) => c.next({ expires: 2000 }));
    await expect(theirs).rejects.toThrow();
    const info = await hub.jsm.consumers.info(names.streams.work, names.workConsumer("sim-b"));
    expect(info.num_pending).toBe(1);
  });

  it("lets an agent answer gateway requests for its own cluster only", async () => {
    const theirs = agentA.nc.subscribe(names.proxy("sim-b"));
    const mine = agentA.nc.subscribe(names.proxy("sim-a"), {
      callback: (_error, message) => {
        message.respond(new TextEncoder().encode("accepted"));
      },
    });
    await agentA.nc.flush();
    await until(
      () => errors.some((e) => /Permissions Violation for Subscription to "atoll\.v1\.proxy\.sim-b"/.test(e)),
      "the server's subscription error",
    );
    const answer = await hub.nc.request(names.proxy("sim-a"), new Uint8Array(), { timeout: 2000 });
    expect(new TextDecoder().decode(answer.data)).toBe("accepted");
    // No agent may hear sim-b's requests, so the hub learns at once that nobody answers.
    await expect(hub.nc.request(names.proxy("sim-b"), new Uint8Array(), { timeout: 2000 })).rejects.toThrow(
      /503|no responders/i,
    );
    const replies: string[] = [];
    const listening = hub.nc.subscribe(`${names.all("proxy").replace(/\.proxy\.\*$/, ".proxyreply")}.>`, {
      callback: (_error, message) => {
        replies.push(message.subject);
      },
    });
    await hub.nc.flush();
    agentA.nc.publish(names.proxyReply("sim-a", "r1"), new Uint8Array([1]));
    agentA.nc.publish(names.proxyReply("sim-b", "r2"), new Uint8Array([2]));
    await agentA.nc.flush();
    await until(() => replies.length > 0, "the agent's own reply");
    await until(
      () => errors.some((e) => /Publish to "atoll\.v1\.proxyreply\.sim-b\.r2"/.test(e)),
      "the server's publish error",
    );
    expect(replies).toEqual([names.proxyReply("sim-a", "r1")]);
    for (const subscription of [theirs, mine, listening]) subscription.unsubscribe();
  });

  it("keeps an agent from speaking for the hub: no control messages, so no input into an exec", async () => {
    // An exec or port-forward to a pull cluster carries the caller's keystrokes on proxyctl.
    const heard: string[] = [];
    const listening = ["sim-a", "sim-b"].map((cluster) =>
      hub.nc.subscribe(names.proxyControl(cluster), {
        callback: (_error, message) => {
          heard.push(message.subject);
        },
      }),
    );
    await hub.nc.flush();
    agentA.nc.publish(names.proxyControl("sim-b"), new Uint8Array([1]));
    agentA.nc.publish(names.proxyControl("sim-a"), new Uint8Array([2]));
    await agentA.nc.flush();
    hub.nc.publish(names.proxyControl("sim-a"), new Uint8Array([3]));
    await until(() => heard.length > 0, "the hub's own control message");
    await until(
      () => errors.some((e) => /Publish to "atoll\.v1\.proxyctl\.sim-a"/.test(e)),
      "the server's publish error",
    );
    expect(heard).toEqual([names.proxyControl("sim-a")]);
    for (const subscription of listening) subscription.unsubscribe();
  });

  it("refuses a wrong credential with an error that says what to do", async () => {
    const error = await agent("sim-a", seedOf(createUser())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusAuthError);
    expect((error as Error).message).toMatch(
      /refused the credentials of "agent\/sim-a".*check the credentials file/,
    );
  });
});

describe("infra/nats/hub.example.conf", () => {
  const examplePath = fileURLToPath(new URL("../../../infra/nats/hub.example.conf", import.meta.url));
  // Public keys only: what a registry holds, never a seed.
  const rendered = renderServerConfig({
    port: 4222,
    host: "10.0.0.5",
    tls: {
      certFile: "/etc/nats/tls/tls.crt",
      keyFile: "/etc/nats/tls/tls.key",
      caFile: "/etc/nats/tls/ca.crt",
    },
    storeDir: "/data/jetstream",
    identities: [
      { nkey: "UALD6PMVFCXMC6QZUZZNH5SUJBFLPZMA63LPRYL46AROARBMD7ELW5K6", description: "hub services" },
      ...[
        ["prod-eu-1", "UCAOL3O44VNPX4QHLHZUD2WTM6MCGCPZ723KKTXEOKM6ATFNXURJEPF3"],
        ["edge-7", "UAZDPOBMVZBZQBWEM4PLSU3KBL3ZR24JD4BI2E7F3ETAKZGJZ4LFJ2TP"],
      ].map(([cluster, nkey]) => ({
        nkey: nkey!,
        description: `cluster ${cluster}`,
        permissions: agentPermissions(busNames(""), cluster!),
      })),
    ],
  });

  it("is what `atoll cluster nats-config` renders for a registry of two pull clusters", () => {
    if (process.env.UPDATE_GOLDEN) writeFileSync(examplePath, rendered);
    expect(readFileSync(examplePath, "utf8")).toBe(rendered);
  });

  it("is a configuration nats-server accepts, with its TLS files in place", () => {
    // The server loads the certificate to test the file, so the example's paths point at real ones here.
    const dir = mkdtempSync(join(tmpdir(), "atoll-nats-tls-"));
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"].concat(
        ["-subj", "/CN=nats", "-keyout", join(dir, "tls.key"), "-out", join(dir, "tls.crt")],
      ),
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(join(dir, "ca.crt"), readFileSync(join(dir, "tls.crt")));
    const file = join(dir, "nats.conf");
    writeFileSync(file, rendered.replaceAll("/etc/nats/tls", dir));
    const check = spawnSync(findExecutable("nats-server") ?? "nats-server", ["-c", file, "-t"], {
      encoding: "utf8",
    });
    rmSync(dir, { recursive: true, force: true });
    expect(`${check.stdout}${check.stderr}`).toMatch(/is valid/);
  });

  it("binds the address it is given, carries TLS, and caps the account's JetStream storage", () => {
    expect(rendered).toMatch(/^host: "10\.0\.0\.5"$/m);
    expect(rendered).toMatch(/^tls \{\n {2}cert_file: "\/etc\/nats\/tls\/tls\.crt"/m);
    expect(rendered).toMatch(
      /jetstream: \{ max_file: 10G, max_mem: 1G, max_streams: 64, max_consumers: 20000 \}/,
    );
    expect(rendered).not.toMatch(/no_auth_user|authorization|0\.0\.0\.0/);
  });
});
