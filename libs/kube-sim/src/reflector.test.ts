import { until } from "@atoll/devkit";
import { KubeClient, Reflector, type ReflectorEvent, type ResourceType } from "@atoll/kube";
import { silentLogger } from "@atoll/log";
import { afterEach, describe, expect, it } from "vitest";
import { generateCluster } from "./generator.js";
import { KubeSim } from "./server.js";
import type { Obj } from "./store.js";

describe("Reflector against kube-sim", () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  /** A sim with pods and a reflector over them; `refuse` makes the sink fail on the events it picks. */
  async function setup(eventWindow = 50_000, refuse: (event: ReflectorEvent) => boolean = () => false) {
    const sim = new KubeSim({ name: "reflect", token: "t", eventWindow, bookmarkIntervalMs: 100 });
    await sim.start();
    stops.push(() => sim.stop());
    generateCluster(sim, { seed: 3, deploymentsPerNamespace: 3 });
    const events: ReflectorEvent[] = [];
    const podType = sim.store.findType("", "v1", "pods")!;
    const reflector = new Reflector({
      client: KubeClient.fromKubeconfig(sim.kubeconfig()),
      type: podType,
      pageSize: 5,
      logger: silentLogger(),
      backoff: { initialMs: 10, maxMs: 50 },
      sink: async (event) => {
        if (refuse(event)) throw new Error("the bus is unavailable");
        events.push(event);
      },
    });
    reflector.start();
    stops.push(() => reflector.stop());
    await until(() => events.some((e) => e.type === "SYNC_END"));
    return { sim, events, reflector, podType };
  }

  /**
   * Deletes an object while the reflector's watch is down, then pushes the sim's event window past
   * its version, all within one tick: the watch comes back to 410 Gone and the reflector relists.
   */
  function deleteOutOfSight(sim: KubeSim, podType: ResourceType, victim: Obj) {
    sim.dropWatches();
    sim.store.delete(podType, victim.metadata.namespace, victim.metadata.name);
    const cm = sim.store.findType("", "v1", "configmaps")!;
    for (let i = 0; i < 40; i++)
      sim.store.create(cm, { metadata: { name: `gap-${i}`, namespace: "default" } });
  }

  it("lists every object in pages, framed by sync markers, then watches", async () => {
    const { sim, events, podType } = await setup();
    const listed = events.filter((e) => e.type === "ADDED");
    expect(events[0]?.type).toBe("SYNC_BEGIN");
    expect(listed.length).toBe(sim.store.count(podType));
    const pod = sim.store.list(podType)[0]!.object;
    sim.store.update(podType, {
      ...pod,
      metadata: { ...pod.metadata, resourceVersion: undefined, labels: { changed: "yes" } },
    });
    await until(() =>
      events.some((e) => e.type === "MODIFIED" && e.object.metadata.uid === pod.metadata.uid),
    );
  });

  it("resumes from its last version after a dropped connection, without relisting", async () => {
    const { sim, events, podType } = await setup();
    const pod = sim.store.list(podType)[1]!.object;
    sim.dropWatches();
    sim.store.delete(podType, pod.metadata.namespace, pod.metadata.name);
    await until(() => events.some((e) => e.type === "DELETED" && e.uid === pod.metadata.uid));
    expect(events.filter((e) => e.type === "SYNC_BEGIN")).toHaveLength(1);
  });

  it("relists on 410 Gone and emits deletions for objects that vanished meanwhile", async () => {
    const { sim, events, podType, reflector } = await setup(20);
    await until(() => reflector.state === "watching");
    const victim = sim.store.list(podType)[2]!.object;
    deleteOutOfSight(sim, podType, victim);
    await until(() => events.filter((e) => e.type === "SYNC_END").length === 2);
    const deleted = events.filter((e) => e.type === "DELETED");
    expect(deleted.map((e) => (e.type === "DELETED" ? e.uid : ""))).toContain(victim.metadata.uid);
    expect(reflector.objectCount).toBe(sim.store.count(podType));
  });

  it("still reports what vanished when the relist that would have found it failed halfway", async () => {
    let failAfter = Number.POSITIVE_INFINITY;
    // The bus refuses an event halfway through the relist, once.
    const { sim, events, podType, reflector } = await setup(20, (event) => {
      if (event.type !== "ADDED" || failAfter-- > 0) return false;
      failAfter = Number.POSITIVE_INFINITY;
      return true;
    });
    await until(() => reflector.state === "watching");
    const victim = sim.store.list(podType).at(-1)!.object;
    failAfter = 7;
    deleteOutOfSight(sim, podType, victim);
    await until(() => events.filter((e) => e.type === "SYNC_END").length === 2);
    // Three lists began: the first, the one that failed, and the one that completed.
    expect(events.filter((e) => e.type === "SYNC_BEGIN")).toHaveLength(3);
    expect(
      events.filter((e) => e.type === "DELETED").map((e) => (e.type === "DELETED" ? e.uid : "")),
    ).toEqual([victim.metadata.uid]);
    expect(reflector.objectCount).toBe(sim.store.count(podType));
  });

  it("backs off with a recorded error while the server is unreachable", async () => {
    const sim = new KubeSim({ name: "gone", token: "t" });
    await sim.start();
    const kubeconfig = sim.kubeconfig();
    await sim.stop();
    const reflector = new Reflector({
      client: KubeClient.fromKubeconfig(kubeconfig),
      type: sim.store.findType("", "v1", "pods")!,
      logger: silentLogger(),
      backoff: { initialMs: 10, maxMs: 50 },
      sink: async () => {},
    });
    reflector.start();
    stops.push(() => reflector.stop());
    await until(() => reflector.state === "backoff" && reflector.lastError !== "");
    expect(reflector.lastError).toMatch(/ECONNREFUSED/);
  });
});
