import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

describe("secret values never leave the cluster", () => {
  const hub = new TestHub();
  const sim = new KubeSim({ name: "redact-sim", token: "r" });
  const planted = "correct-horse-battery-staple";
  let wire = "";

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, { seed: 31, namespaces: ["default", "prod"], deploymentsPerNamespace: 3 });
    sim.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "applied-with-kubectl",
        namespace: "prod",
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
            stringData: { token: planted },
          }),
        },
      },
      stringData: { token: planted },
      data: { password: Buffer.from(planted).toString("base64") },
    });
    await hub.start();
    // Indexed events leave the stream, so the wire is read as the agent publishes it.
    const subscription = hub.bus.nc.subscribe(hub.bus.names.all("res"));
    void (async () => {
      for await (const message of subscription) wire += Buffer.from(message.data).toString("latin1");
    })();
    hub.startAgent(sim);
    await hub.waitIndexed(sim);
    await hub.bus.nc.flush();
    subscription.unsubscribe();
  });
  afterAll(async () => {
    await hub.stop();
    await sim.stop();
  });

  it("keeps every secret value, plain or base64, out of the stream and the database", async () => {
    const secrets = sim.store.list(sim.store.findType("", "v1", "secrets")!).map(({ object }) => object);
    const values = new Set<string>([planted, Buffer.from(planted).toString("base64")]);
    // Generated secrets hold a random password (and a username equal to the app's name, which is
    // public anyway); every password, in both encodings, must stay in the cluster.
    for (const secret of secrets) {
      const password = secret.data?.password as string | undefined;
      if (!password) continue;
      values.add(password);
      values.add(Buffer.from(password, "base64").toString("utf8"));
    }
    expect(values.size).toBeGreaterThan(10);

    const sql = postgres(hub.databaseUrl, { max: 1 });
    const [dumpRow] = await sql`
      select coalesce(string_agg(t::text, ' '), '') as dump from (
        select r::text as t from resources r union all select c::text from resource_changes c union all select k::text from clusters k
      ) rows`;
    const dump = String(dumpRow?.dump ?? "");
    const [secretRow] =
      await sql`select object from resources where kind = 'Secret' and name = 'applied-with-kubectl'`;
    await sql.end();

    expect(wire).toContain("applied-with-kubectl");
    for (const value of values) {
      expect(wire.includes(value), `stream holds ${value}`).toBe(false);
      expect(dump.includes(value), `database holds ${value}`).toBe(false);
    }
    expect(secretRow?.object.data).toEqual({ password: { redacted: true, length: planted.length } });
    expect(secretRow?.object.stringData).toEqual({ token: { redacted: true, length: planted.length } });
    expect(secretRow?.object.metadata.annotations ?? {}).not.toHaveProperty(
      "kubectl.kubernetes.io/last-applied-configuration",
    );
  });
});
