import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";
import { kubectl } from "../support/kubectl.js";

describe("the real kubectl against the index (/k8s/all and /k8s/clusters/<name>)", () => {
  const hub = new TestHub();
  const big = new KubeSim({ name: "big", token: "b" });
  const small = new KubeSim({ name: "small", token: "s" });
  let all = "";
  let onlySmall = "";

  const pods = (sim: KubeSim, namespace?: string) =>
    sim.store.list(sim.store.findType("", "v1", "pods")!, namespace).map(({ object }) => object);

  beforeAll(async () => {
    await Promise.all([big.start(), small.start()]);
    generateCluster(big, {
      seed: 91,
      namespaces: ["default", "a", "b", "c", "d", "e", "f", "g", "h", "prod"],
      deploymentsPerNamespace: 50,
      failures: { CrashLoopBackOff: 3 },
    });
    generateCluster(small, { seed: 92, namespaces: ["default", "prod"], deploymentsPerNamespace: 3 });
    await hub.start();
    hub.startAgent(big);
    hub.startAgent(small);
    await hub.waitIndexed(big, 120_000);
    await hub.waitIndexed(small);
    all = join(hub.dir, "all.kubeconfig");
    onlySmall = join(hub.dir, "small.kubeconfig");
    writeFileSync(all, hub.kubeconfig("/k8s/all"));
    writeFileSync(onlySmall, hub.kubeconfig("/k8s/clusters/small"));
  }, 180_000);
  afterAll(async () => {
    await hub.stop();
    await Promise.all([big.stop(), small.stop()]);
  });

  it("get pods -A lists every cluster's pods with a CLUSTER column", async () => {
    const out = await kubectl(all, ["get", "pods", "-A"]);
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+CLUSTER\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines).toHaveLength(pods(big).length + pods(small).length + 1);
    expect(pods(big).length).toBeGreaterThan(1000);
    expect(out).toMatch(/\s+big\s+\S+\s+0\/1\s+CrashLoopBackOff/);
  });

  it("--chunk-size=50 pages through everything with continue tokens", async () => {
    const names = (await kubectl(all, ["get", "pods", "-A", "--chunk-size=50", "-o", "name"]))
      .trim()
      .split("\n");
    expect(names).toHaveLength(pods(big).length + pods(small).length);
  });

  it("-n prod -o yaml returns one cluster's objects with the cluster annotated", async () => {
    const list = YAML.parse(await kubectl(onlySmall, ["get", "deploy", "-n", "prod", "-o", "yaml"]));
    const expected = small.store
      .list(small.store.findType("apps", "v1", "deployments")!, "prod")
      .map(({ object }) => object.metadata.name);
    expect(list.items.map((d: { metadata: { name: string } }) => d.metadata.name)).toEqual(expected);
    for (const item of list.items) expect(item.metadata.annotations["atoll.dev/cluster"]).toBe("small");
  });

  it("-l and --field-selector filter in the index", async () => {
    const app = pods(big, "prod")[0]!.metadata.labels.app as string;
    const labelled = (await kubectl(all, ["get", "pods", "-A", "-l", `app=${app}`, "-o", "name"]))
      .trim()
      .split("\n");
    const expected = [...pods(big), ...pods(small)].filter((p) => p.metadata.labels.app === app);
    expect(labelled).toHaveLength(expected.length);
    const running = (
      await kubectl(all, ["get", "pods", "-A", "--field-selector", "status.phase=Running", "-o", "name"])
    )
      .trim()
      .split("\n");
    expect(running).toHaveLength(
      [...pods(big), ...pods(small)].filter((p) => p.status.phase === "Running").length,
    );
  });

  it("gets one object by name from one cluster, and says why not across clusters", async () => {
    const pod = pods(small, "prod")[0]!;
    const got = YAML.parse(
      await kubectl(onlySmall, ["get", "pod", "-n", "prod", pod.metadata.name, "-o", "yaml"]),
    );
    expect(got.metadata.uid).toBe(pod.metadata.uid);
    const missing = await kubectl(onlySmall, ["get", "pod", "-n", "prod", "nope"]).catch(
      (e: Error) => e.message,
    );
    expect(missing).toMatch(/pods "nope" not found/);
  });

  it("shows a limited token only its grants, and refuses an invalid one", async () => {
    const role = await hub.send("PUT", "/api/v1/roles/small-prod", {
      grants: [{ verbs: ["read"], clusters: ["small"], namespaces: ["prod"] }],
    });
    expect(role.status).toBe(200);
    const { body } = await hub.send("POST", "/api/v1/tokens", { name: "kubectl-user", role: "small-prod" });
    const limited = join(hub.dir, "limited.kubeconfig");
    writeFileSync(limited, hub.kubeconfig("/k8s/all", body.token));
    const names = (await kubectl(limited, ["get", "pods", "-A", "-o", "name"])).trim().split("\n");
    expect(names.sort()).toEqual(
      pods(small, "prod")
        .map((p) => `pod/${p.metadata.name}`)
        .sort(),
    );
    const bigOnly = join(hub.dir, "limited-big.kubeconfig");
    writeFileSync(bigOnly, hub.kubeconfig("/k8s/clusters/big", body.token));
    const refused = await kubectl(bigOnly, ["get", "pods", "-A"]).catch((e: Error) => e.message);
    expect(refused).toMatch(/NotFound|not found|could not find the requested resource/);
    const anonymous = join(hub.dir, "anonymous.kubeconfig");
    // A token that is not valid (with none at all, kubectl would prompt for a username instead).
    writeFileSync(anonymous, hub.kubeconfig("/k8s/all", "atoll_000000000000_revoked-or-never-issued"));
    const unauthenticated = await kubectl(anonymous, ["get", "pods", "-A"]).catch((e: Error) => e.message);
    expect(unauthenticated).toMatch(/Unauthorized|must be logged in/);
  });
});
