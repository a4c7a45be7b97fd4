import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codecFor, create, PlacementRequestSchema } from "@atoll/contracts";
import { freePort, type NatsClusterProcess, startNatsCluster, startNatsServer, until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { jetstreamManager } from "@nats-io/jetstream";
import { createUser as createNkeyUser } from "@nats-io/nkeys";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bus } from "./bus.js";
import { ReplicaWatch } from "./replicas.js";
import { natsIdentities, renderServerConfig } from "./security.js";

const codec = codecFor(PlacementRequestSchema);
const MESSAGES = 200;

/** Publishes as agents and hub services do: the same message id again until the bus takes it. */
async function publishUntilTaken(bus: Bus, subject: string, name: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await bus.publish(subject, codec, create(PlacementRequestSchema, { name, kind: "Deployment" }), name);
      return attempt;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Declares the topology once the cluster has elected its JetStream leader, a moment after the servers listen. */
async function declareOnceElected(bus: Bus): Promise<void> {
  await until(
    async () => {
      try {
        await bus.ensureTopology();
        return true;
      } catch {
        return false;
      }
    },
    "the NATS cluster to take the topology",
    60_000,
    500,
  );
}

describe("streams replicated across a three-server NATS cluster (ATOLL_BUS_REPLICAS=3)", () => {
  let cluster: NatsClusterProcess;
  let bus: Bus;
  const prefix = `r${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    bus = await Bus.connect({
      url: cluster.url,
      name: "replication-test",
      prefix,
      logger: silentLogger(),
      topology: { replicas: 3 },
    });
    await declareOnceElected(bus);
  }, 90_000);
  afterAll(async () => {
    await bus?.close();
    await cluster?.stop();
  });

  it("keeps three copies of every stream and of the clusters bucket", async () => {
    for (const stream of [...Object.values(bus.names.streams), `KV_${bus.names.clustersBucket}`]) {
      const info = await bus.jsm.streams.info(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      expect(info.cluster?.replicas?.length, stream).toBe(2);
    }
  });

  it("never deletes a replicated consumer to rewind it, leaving its unacked messages to come back", async () => {
    const stream = bus.names.streams.work;
    const subject = bus.names.work("c2");
    await bus.ensureConsumer(stream, "resume-test", subject, { ackWaitMs: 60_000 });
    await publishUntilTaken(bus, subject, "unacked");
    // A reader takes the message and dies before acking it.
    const taken = await (await bus.js.consumers.get(stream, "resume-test")).next({ expires: 5_000 });
    expect(taken?.subject).toBe(subject);
    const before = await bus.jsm.consumers.info(stream, "resume-test");
    expect(before.num_ack_pending).toBe(1);
    await bus.ensureConsumer(stream, "resume-test", subject, { ackWaitMs: 60_000, resume: true });
    // The same consumer (deleting it would leave a server that is down a dead copy in NATS 2.9).
    const after = await bus.jsm.consumers.info(stream, "resume-test");
    expect(after.created).toBe(before.created);
    expect(after.num_ack_pending).toBe(1);
    await bus.jsm.consumers.delete(stream, "resume-test");
    await bus.jsm.streams.purge(stream, { filter: subject });
  });

  it("has a consumer's leader step down when a copy stays behind, and loses no delivery", async () => {
    const stream = bus.names.streams.work;
    const subject = bus.names.work("c3");
    await bus.ensureConsumer(stream, "stuck-test", subject);
    const consumer = await bus.js.consumers.get(stream, "stuck-test");
    const before = (await bus.jsm.consumers.info(stream, "stuck-test")).cluster;
    // Not the server this test talks through; and, where there is a choice, not the stream's leader,
    // whose loss would only make the publishes wait for an election.
    const streamLeader = (await bus.jsm.streams.info(stream)).cluster?.leader;
    const followers = (before?.replicas ?? [])
      .map((replica) => replica.name)
      .filter((name) => name !== bus.nc.info?.server_name);
    const frozenName = followers.find((name) => name !== streamLeader) ?? followers[0];
    expect(cluster.names).toContain(frozenName);
    /**
     * The frozen server may lead JetStream's own group, which answers listings: until the others
     * elect another leader, those time out. Only answers count; a call that failed is made again.
     */
    const answered = async <T>(call: () => Promise<T>): Promise<T> => {
      let answer: { value: T } | undefined;
      await until(
        () =>
          call().then(
            (value) => {
              answer = { value };
              return true;
            },
            () => false,
          ),
        "JetStream to answer",
        30_000,
        500,
      );
      return answer!.value;
    };
    const frozenCopy = async () =>
      (await answered(() => bus.jsm.consumers.info(stream, "stuck-test"))).cluster?.replicas?.find(
        (replica) => replica.name === frozenName,
      );
    const options = { stuckAfterMs: 10_000, intervalMs: 1_000, logger: silentLogger() };
    // A frozen server is down to its peers, and a watch leaves its copies alone: no new leader mends them.
    const watch = new ReplicaWatch(bus, options);
    // One that counts a copy unheard for a minute as in contact takes it for a stuck one.
    const credulous = new ReplicaWatch(bus, { ...options, inContactMs: 60_000 });
    // A frozen server's copy falls behind and stays there, as NATS 2.9 leaves a restarted server's.
    const frozen = cluster.servers[cluster.names.indexOf(frozenName!)]!.process;
    frozen.kill("SIGSTOP");
    try {
      const delivered: string[] = [];
      const deliverOne = async (name: string) => {
        await publishUntilTaken(bus, subject, name);
        const message = await consumer.next({ expires: 5_000 });
        await message?.ackAck();
        if (message) delivered.push(codec.decode(message.data).name);
      };
      await deliverOne("before");
      await until(
        async () => (await frozenCopy())?.current === false,
        "the frozen copy to fall behind",
        30_000,
        200,
      );
      const at = Date.now();
      expect(await answered(() => credulous.pass(at))).toEqual([]);
      await deliverOne("while behind");
      // Behind for less than stuckAfterMs is catching up; as long, without lagging less, is stuck.
      expect(await answered(() => credulous.pass(at + 9_999))).toEqual([]);
      await until(
        async () => ((await frozenCopy())?.active ?? 0) > 4e9,
        "the frozen copy to go unheard for four seconds",
        30_000,
        200,
      );
      expect(await answered(() => watch.pass(at))).toEqual([]);
      expect(await answered(() => watch.pass(at + 60_000))).toEqual([]);
      expect(await answered(() => credulous.pass(at + 10_000))).toEqual([{ stream, consumer: "stuck-test" }]);
      await until(
        async () => {
          const leader = (await answered(() => bus.jsm.consumers.info(stream, "stuck-test"))).cluster?.leader;
          return leader !== undefined && leader !== before?.leader;
        },
        "another server to lead the consumer",
        15_000,
        200,
      );
      await deliverOne("after the step-down");
      expect(delivered).toEqual(["before", "while behind", "after the step-down"]);
      const { num_ack_pending, num_pending } = await answered(() =>
        bus.jsm.consumers.info(stream, "stuck-test"),
      );
      expect({ num_ack_pending, num_pending }).toEqual({ num_ack_pending: 0, num_pending: 0 });

      frozen.kill("SIGCONT");
      await until(
        async () => (await frozenCopy())?.current === true,
        "the thawed copy to catch up",
        30_000,
        200,
      );
      // Caught up, the copy is forgotten: nothing is stuck however long after.
      expect(await answered(() => credulous.pass(Date.now() + 60_000))).toEqual([]);
    } finally {
      frozen.kill("SIGCONT");
      // The next test counts the stream's messages.
      await answered(() => bus.jsm.consumers.delete(stream, "stuck-test").catch(() => false));
      await answered(() => bus.jsm.streams.purge(stream, { filter: subject }));
    }
  }, 120_000);

  it("loses and doubles nothing when the stream's leading server is killed mid-flight", async () => {
    const subject = bus.names.work("c1");
    const handled: string[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "replication-test",
      filterSubject: subject,
      codec,
      ackWaitMs: 2_000,
      handler: async (batch) => {
        for (const delivery of batch) handled.push(delivery.data.name);
      },
    });
    let retried = 0;
    for (let i = 0; i < MESSAGES; i++) {
      if (i === MESSAGES / 2) {
        const leader = (await bus.jsm.streams.info(bus.names.streams.work)).cluster?.leader;
        expect(cluster.names).toContain(leader);
        cluster.kill(cluster.names.indexOf(leader!));
      }
      retried += (await publishUntilTaken(bus, subject, `m${i}`)) - 1;
    }
    await until(() => new Set(handled).size === MESSAGES, "every message handled", 60_000, 100);
    await consumption.stop();
    // Every message arrived, and the stream holds each once: a publish retried across the failover
    // carried the same id and was taken once.
    expect(new Set(handled)).toEqual(new Set(Array.from({ length: MESSAGES }, (_, i) => `m${i}`)));
    const { state } = await bus.jsm.streams.info(bus.names.streams.work);
    expect(state.messages).toBe(MESSAGES);
    // biome-ignore lint/suspicious/noConsole: how the failover went is part of the suite's report
    console.log(
      `replication: ${MESSAGES} messages, ${retried} publishes retried across the failover, ${handled.length - MESSAGES} redeliveries`,
    );
  }, 120_000);
});

describe("the server configuration `atoll cluster nats-config --routes` renders", () => {
  it("makes three servers one JetStream cluster that keeps the hub's streams in three copies", async () => {
    const hub = createNkeyUser();
    const clientPorts = await Promise.all([0, 1, 2].map(() => freePort()));
    const routePorts = await Promise.all([0, 1, 2].map(() => freePort()));
    const store = mkdtempSync(join(tmpdir(), "atoll-nats-rendered-"));
    const servers = await Promise.all(
      clientPorts.map((port, i) =>
        startNatsServer({
          port,
          config: renderServerConfig({
            port,
            host: "127.0.0.1",
            storeDir: join(store, `s${i}`),
            identities: natsIdentities(hub.getPublicKey(), [], ""),
            cluster: {
              serverName: `s${i}`,
              name: "atoll",
              listen: `127.0.0.1:${routePorts[i]}`,
              routes: routePorts.map((route) => `nats-route://127.0.0.1:${route}`),
            },
          }),
        }),
      ),
    );
    const bus = await Bus.connect({
      url: servers.map((server) => server.url).join(","),
      name: "rendered-config-test",
      prefix: `c${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
      nkeySeed: new TextDecoder().decode(hub.getSeed()),
      topology: { replicas: 3 },
    });
    try {
      await declareOnceElected(bus);
      const info = await bus.jsm.streams.info(bus.names.streams.resources);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2);
    } finally {
      await bus.close();
      await Promise.all(servers.map((server) => server.stop()));
      rmSync(store, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("routes between the servers, over TLS", () => {
  /** Runs openssl, failing the test with what it printed. */
  const openssl = (...args: string[]) => {
    const run = spawnSync("openssl", args, { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
  };
  /** A key and a certificate for 127.0.0.1 and localhost, for servers and clients alike, signed by `ca` or by itself. */
  const certificate = (dir: string, name: string, ca?: string) => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.crt`);
    const extensions = join(dir, `${name}.ext`);
    writeFileSync(
      extensions,
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    );
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key];
    if (!ca) {
      openssl(
        "req",
        "-x509",
        ...ec,
        "-days",
        "1",
        "-subj",
        `/CN=${name}`,
        "-out",
        cert,
        "-extensions",
        "v3_ca",
      );
      return { certFile: cert, keyFile: key };
    }
    const request = join(dir, `${name}.csr`);
    openssl("req", ...ec, "-subj", `/CN=${name}`, "-out", request);
    openssl(
      "x509",
      ...["-req", "-in", request, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"],
      ...["-days", "1", "-extfile", extensions, "-out", cert],
    );
    return { certFile: cert, keyFile: key };
  };
  const routesOf = async (monitorPort: number) =>
    ((await (await fetch(`http://127.0.0.1:${monitorPort}/routez`)).json()) as { num_routes: number })
      .num_routes;

  it("joins servers whose certificates the CA signed, and refuses one whose certificate it did not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "atoll-nats-routes-"));
    certificate(dir, "ca");
    const signed = { ...certificate(dir, "server", join(dir, "ca")), caFile: join(dir, "ca.crt") };
    // A rogue that reaches the route port, with a certificate of its own making.
    const rogueTls = { ...certificate(dir, "rogue"), caFile: join(dir, "ca.crt") };
    const hub = createNkeyUser();
    const configOf = (
      name: string,
      ports: { client: number; route: number; monitor: number },
      routes: number[],
      tls: typeof signed,
    ) =>
      `${renderServerConfig({
        port: ports.client,
        host: "127.0.0.1",
        storeDir: join(dir, name),
        tls,
        monitorPort: ports.monitor,
        identities: natsIdentities(hub.getPublicKey(), [], ""),
        cluster: {
          serverName: name,
          name: "atoll",
          listen: `127.0.0.1:${ports.route}`,
          routes: routes.map((route) => `nats-route://127.0.0.1:${route}`),
        },
      })}log_file: "${join(dir, `${name}.log`)}"\n`;
    /**
     * Servers on ports found free, started again on others if one was taken meanwhile (by a
     * connection the servers already running opened, say).
     */
    const startServers = async (
      names: string[],
      routesTo: (own: number[]) => number[],
      tls: typeof signed,
    ) => {
      for (let attempt = 1; ; attempt++) {
        const ports = await Promise.all(
          names.map(async () => ({
            client: await freePort(),
            route: await freePort(),
            monitor: await freePort(),
          })),
        );
        const routes = routesTo(ports.map(({ route }) => route));
        const started = await Promise.allSettled(
          names.map((name, i) =>
            startNatsServer({ port: ports[i]!.client, config: configOf(name, ports[i]!, routes, tls) }),
          ),
        );
        const servers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
        if (servers.length === names.length) return { servers, ports };
        await Promise.all(servers.map((server) => server.stop()));
        if (attempt === 3)
          throw (started.find((result) => result.status === "rejected") as PromiseRejectedResult).reason;
      }
    };
    const cluster = await startServers(["s0", "s1", "s2"], (own) => own, signed);
    const clusterRoutes = cluster.ports.map(({ route }) => route);
    const rogue = await startServers(["rogue"], () => clusterRoutes, rogueTls).catch(
      async (error: unknown) => {
        await Promise.all(cluster.servers.map((server) => server.stop()));
        throw error;
      },
    );
    const servers = cluster.servers;
    const monitors = cluster.ports.map(({ monitor }) => monitor);
    /** How many times the cluster's servers refused a route for want of a certificate their CA signed. */
    const refusals = () =>
      ["s0", "s1", "s2"]
        .flatMap((name) => readFileSync(join(dir, `${name}.log`), "utf8").split("\n"))
        .filter((line) => /TLS route handshake error: tls: client didn't provide a certificate/.test(line))
        .length;
    try {
      await until(
        async () => (await Promise.all(monitors.map(routesOf))).every((n) => n === 2),
        "the three servers to route to each other",
        30_000,
        200,
      );
      // The rogue dials every route, and each server refuses it: Go's TLS offers no certificate
      // that the server's CA did not sign.
      await until(() => refusals() >= 3, "the servers to refuse the rogue's routes", 30_000, 200);
      expect(await routesOf(rogue.ports[0]!.monitor)).toBe(0);
      expect(await Promise.all(monitors.map(routesOf))).toEqual([2, 2, 2]);
      // A replicated stream works across the routes.
      const nc = await connect({
        servers: servers.map((server) => server.url.replace("nats://", "tls://")),
        tls: { caFile: join(dir, "ca.crt") },
        authenticator: nkeyAuthenticator(hub.getSeed()),
      });
      try {
        // Not asked whether JetStream answers yet: the servers elect its leader a moment after they route.
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        await until(
          () =>
            jsm.streams.add({ name: "ROUTED", subjects: ["routed.>"], num_replicas: 3 }).then(
              () => true,
              () => false,
            ),
          "a stream with three copies",
          30_000,
          500,
        );
        expect((await jsm.streams.info("ROUTED")).cluster?.replicas).toHaveLength(2);
      } finally {
        await nc.close();
      }
    } finally {
      await Promise.all([...servers, ...rogue.servers].map((server) => server.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
