import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventType, type ResourceEvent } from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { forgedEvent, publishForged } from "../support/forge.js";
import { TestHub } from "../support/hub.js";
import { differences, indexState } from "../support/state.js";

interface Rule {
  apiVersion: string;
  resource: string;
  namespaces?: { include: string[] };
}

/** (cluster/uid → resourceVersion) of what a sim holds under these rules, or all of it without. */
function simState(sim: KubeSim, rules?: Rule[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const type of sim.store.types()) {
    const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    for (const { object } of sim.store.list(type)) {
      const synced =
        !rules ||
        rules.some(
          (rule) =>
            rule.apiVersion === apiVersion &&
            rule.resource === type.resource &&
            (!rule.namespaces || rule.namespaces.include.includes(object.metadata.namespace ?? "")),
        );
      if (synced) state.set(`${sim.name}/${object.metadata.uid}`, object.metadata.resourceVersion);
    }
  }
  return state;
}

const NAMESPACES = ["default", "prod", "dev"];

function withConfigMaps(sim: KubeSim, seed: number): void {
  generateCluster(sim, { seed, namespaces: NAMESPACES, deploymentsPerNamespace: 3 });
  for (const namespace of NAMESPACES)
    for (let i = 0; i < 8; i++)
      sim.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${i}`, namespace },
        data: { i: `${i}` },
      });
}

describe("an index repaired by the next full list, against forged messages and changed sync rules", () => {
  const hub = new TestHub();
  const target = new KubeSim({ name: "repair-target", token: "t1" });
  const bystander = new KubeSim({ name: "repair-bystander", token: "t2" });
  let sql: postgres.Sql;

  const clusterState = async (cluster: string) =>
    new Map([...(await indexState(sql))].filter(([key]) => key.startsWith(`${cluster}/`)));
  const converges = async (cluster: string, expected: () => Map<string, string>, what: string) => {
    let problems: string[] = [];
    await until(
      async () => {
        problems = differences(expected(), await clusterState(cluster));
        return problems.length === 0;
      },
      what,
      60_000,
      200,
    ).catch(() => undefined);
    expect(problems.slice(0, 10)).toEqual([]);
  };
  const restartAgent = async (sim: KubeSim, rules?: Rule[]) => {
    await hub.agents.get(`agent-${sim.name}`)?.stop();
    const env: Record<string, string> = {};
    if (rules) {
      const file = join(hub.dir, `${sim.name}-${Date.now()}.yaml`);
      writeFileSync(file, YAML.stringify({ rules }));
      env.ATOLL_SYNC_RULES = file;
    }
    hub.startAgent(sim, env);
  };

  beforeAll(async () => {
    await Promise.all([target.start(), bystander.start()]);
    withConfigMaps(target, 11);
    withConfigMaps(bystander, 12);
    await hub.start();
    hub.startAgent(target);
    hub.startAgent(bystander);
    await hub.waitIndexed(target);
    await hub.waitIndexed(bystander);
    sql = postgres(hub.databaseUrl, { max: 2, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await hub.stop();
    await Promise.all([target.stop(), bystander.stop()]);
  });

  it("dead-letters exactly the poison, keeps every cluster indexing, and the next relist undoes forged deletions", async () => {
    const subject = hub.bus.names.resources(target.name);
    const deadBefore = (await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter)).state.last_seq;
    // Every forged batch arrives on the target's subject, whichever cluster it names.
    const send = (cluster: string, events: ResourceEvent[], id: string) =>
      publishForged(hub.bus, target.name, events, id, cluster);
    const configMap = (name: string, object: string) =>
      forgedEvent({
        type: EventType.ADDED,
        kind: "ConfigMap",
        resource: "configmaps",
        namespace: "default",
        name,
        uid: `forged-${name}`,
        resourceVersion: 1n,
        object: new TextEncoder().encode(object),
      });
    // An object nesting 20,000 levels, which once threw RangeError in the word collector forever.
    await send(
      target.name,
      [configMap("deep", `{"metadata":{"name":"deep"},"data":${"[".repeat(20_000)}${"]".repeat(20_000)}}`)],
      "poison-deep",
    );
    // Bytes that are no batch at all.
    await hub.bus.js.publish(subject, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), {
      msgID: "poison-bytes",
    });
    // A batch naming another cluster than its subject does.
    await send(
      bystander.name,
      [configMap("elsewhere", '{"metadata":{"name":"elsewhere"}}')],
      "poison-cluster",
    );
    // A label no Kubernetes object can carry, larger than any index entry: indexed as sent (Postgres
    // hashes long jsonb values in its GIN index and leaves over-long words out of the text search).
    await send(
      target.name,
      [
        configMap(
          "huge-labels",
          JSON.stringify({ metadata: { name: "huge-labels", labels: { big: "x".repeat(600_000) } } }),
        ),
      ],
      "poison-labels",
    );
    let hugeLabel: number | undefined;
    await until(async () => {
      hugeLabel = (
        await sql`select length(labels->>'big')::int as n from resources where uid = 'forged-huge-labels'`
      )[0]?.n;
      return hugeLabel !== undefined;
    }, "the object with a huge label to be indexed");
    expect(hugeLabel).toBe(600_000);
    // A deletion of a live Deployment from far in its future, and the end of a list nobody made.
    const deploymentType = target.store.findType("apps", "v1", "deployments")!;
    const [live, taken] = target.store.list(deploymentType);
    await send(
      target.name,
      [
        forgedEvent({
          type: EventType.DELETED,
          group: "apps",
          kind: "Deployment",
          resource: "deployments",
          uid: live!.object.metadata.uid,
          resourceVersion: 10n ** 12n,
        }),
        // An update from far in another Deployment's future, with content of the forger's choosing.
        forgedEvent({
          type: EventType.MODIFIED,
          group: "apps",
          kind: "Deployment",
          resource: "deployments",
          namespace: taken!.object.metadata.namespace,
          name: taken!.object.metadata.name,
          uid: taken!.object.metadata.uid,
          resourceVersion: 10n ** 12n,
          object: new TextEncoder().encode(
            JSON.stringify({
              ...taken!.object,
              spec: { replicas: 0 },
              metadata: { ...taken!.object.metadata, resourceVersion: "1000000000000" },
            }),
          ),
        }),
        forgedEvent({ type: EventType.SYNC_END, kind: "ConfigMap", resource: "configmaps" }),
      ],
      "forged-deletions",
    );
    await until(
      async () =>
        (await clusterState(target.name)).has(`${target.name}/${live!.object.metadata.uid}`) === false,
      "the forged deletion to be indexed",
    );
    const configMapCount = async () =>
      Number(
        (
          await sql`select count(*)::int as n from resources where cluster = ${target.name} and kind = 'ConfigMap'`
        )[0]?.n,
      );
    await until(async () => (await configMapCount()) === 0, "the forged SYNC_END to be indexed");
    expect((await clusterState(target.name)).get(`${target.name}/${taken!.object.metadata.uid}`)).toBe(
      String(10n ** 12n),
    );

    // Both clusters keep indexing: new objects arrive, behind the poison.
    for (const sim of [target, bystander])
      sim.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "after-poison", namespace: "prod" },
      });
    for (const sim of [target, bystander])
      await until(
        async () =>
          (await sql`select 1 from resources where cluster = ${sim.name} and name = 'after-poison'`)
            .length === 1,
        `${sim.name} to index after the poison`,
      );

    // The dead letters are exactly the poison, each with its reason.
    const info = await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter);
    const reasons: string[] = [];
    for (let seq = deadBefore + 1; seq <= info.state.last_seq; seq++) {
      const message = await hub.bus.jsm.streams.getMessage(hub.bus.names.streams.deadLetter, { seq });
      if (message?.subject === hub.bus.names.deadLetter(`indexer-${target.name}`))
        reasons.push(message.header.get("Atoll-Reason"));
    }
    expect(reasons).toHaveLength(3);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/nests deeper than 100 levels/),
        expect.stringMatching(/^undecodable atoll\.v1\.ResourceEventBatch/),
        expect.stringMatching(/batch names cluster "repair-bystander" but arrived on/),
      ]),
    );

    // An operator looks at them and replays one; only an admin of every cluster may.
    const listed = await hub.cli(["dlq", "list", "--consumer", `indexer-${target.name}`]);
    expect(listed).toMatch(new RegExp(`indexer-${target.name}\\s+3\\b`));
    expect(listed).toMatch(/nests deeper than 100 levels/);
    const { body: page } = await hub.send(
      "GET",
      `/api/v1/dead-letters?after=${deadBefore}&consumer=indexer-${target.name}`,
    );
    const wrongCluster = page.items.find((d: { reason: string }) => /names cluster/.test(d.reason));
    const { body: shown } = await hub.send("GET", `/api/v1/dead-letters/${wrongCluster.seq}`);
    expect(shown.subject).toBe(subject);
    expect(shown.message.cluster).toBe(bystander.name);
    expect(
      (
        await hub.send("PUT", "/api/v1/roles/target-admin", {
          grants: [{ verbs: ["*"], clusters: [target.name] }],
        })
      ).status,
    ).toBe(200);
    const clusterAdmin = (
      await hub.send("POST", "/api/v1/tokens", { name: "target-admin", role: "target-admin" })
    ).body.token;
    for (const [method, path] of [
      ["GET", "/api/v1/dead-letters"],
      ["GET", `/api/v1/dead-letters/${wrongCluster.seq}`],
      ["POST", `/api/v1/dead-letters/${wrongCluster.seq}/replay`],
    ] as const)
      expect((await hub.send(method, path, undefined, clusterAdmin)).status).toBe(403);
    expect(await hub.cli(["dlq", "replay", String(wrongCluster.seq)])).toMatch(/^replayed dead letter/);
    expect((await hub.send("GET", `/api/v1/dead-letters/${wrongCluster.seq}`)).status).toBe(404);
    // Replayed unchanged, it is refused again for the same reason.
    await until(async () => {
      const again = await hub.send(
        "GET",
        `/api/v1/dead-letters?after=${wrongCluster.seq}&consumer=indexer-${target.name}`,
      );
      return again.body.items.some(
        (d: { reason: string; seq: number }) => d.seq > deadBefore + 3 && /names cluster/.test(d.reason),
      );
    }, "the replayed message to be dead-lettered again");

    // The next full list is the truth: the hidden Deployment and ConfigMaps come back.
    await restartAgent(target);
    await converges(target.name, () => simState(target), "the target's index to equal its sim");
    await converges(bystander.name, () => simState(bystander), "the bystander's index to equal its sim");
  }, 180_000);

  const ALL_SERVICES: Rule = { apiVersion: "v1", resource: "services" };
  const PROD_SERVICES: Rule = { ...ALL_SERVICES, namespaces: { include: ["prod"] } };
  const PROD_DEV_SERVICES: Rule = { ...ALL_SERVICES, namespaces: { include: ["prod", "dev"] } };
  const CONFIGMAPS: Rule = { apiVersion: "v1", resource: "configmaps" };
  const DEPLOYMENTS: Rule = { apiVersion: "apps/v1", resource: "deployments" };

  it("follows sync rules exactly when they narrow and then widen", async () => {
    for (const rules of [[ALL_SERVICES, CONFIGMAPS], [PROD_DEV_SERVICES], [ALL_SERVICES, CONFIGMAPS]]) {
      await restartAgent(bystander, rules);
      await converges(bystander.name, () => simState(bystander, rules), `rules ${JSON.stringify(rules)}`);
    }
  }, 180_000);

  it("follows sync rules exactly when they widen and then narrow", async () => {
    for (const rules of [[PROD_SERVICES], [PROD_SERVICES, DEPLOYMENTS, CONFIGMAPS], [PROD_SERVICES]]) {
      await restartAgent(bystander, rules);
      await converges(bystander.name, () => simState(bystander, rules), `rules ${JSON.stringify(rules)}`);
    }
  }, 180_000);
});
