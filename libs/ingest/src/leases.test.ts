import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterLeases } from "./leases.js";

const TTL_MS = 1_000;
const CLUSTERS = ["c1", "c2", "c3"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("cluster leases", () => {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  let bus: Bus;
  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "leases-test",
      prefix,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
    // Heartbeats name the clusters the indexers share.
    const heartbeats = await bus.clusters();
    for (const cluster of CLUSTERS) await heartbeats.put(cluster, new TextEncoder().encode("{}"));
  });
  afterAll(async () => {
    await bus.removeTopology();
    await bus.close();
  });
  /** One indexer's leases, recording what it takes and gives back; its consumers take startMs to start. */
  const recordingLeases = (startMs: number, renewMs?: number) => {
    const acquired: string[] = [];
    const released: string[] = [];
    const leases = new ClusterLeases({
      bus,
      logger: silentLogger(),
      ttlMs: TTL_MS,
      onAcquire: async (cluster) => {
        await sleep(startMs);
        acquired.push(cluster);
      },
      onRelease: async (cluster) => {
        released.push(cluster);
      },
      heardFrom: () => CLUSTERS,
      ...(renewMs ? { renewMs } : {}),
    });
    return { leases, acquired, released };
  };

  it("keeps every lease while a pass takes longer than a lease", async () => {
    // Each pass asks its streams for their subjects, which a busy or recovering NATS cluster answers late.
    const { streams } = bus.jsm;
    const info = streams.info.bind(streams);
    streams.info = async (...args) => {
      await sleep(TTL_MS * 1.5);
      return info(...args);
    };
    const { leases, acquired, released } = recordingLeases(0);
    await leases.start();
    expect(acquired.sort()).toEqual(CLUSTERS);
    // Four leases on, through passes that each outlast a lease, nothing was lost or taken again.
    await sleep(TTL_MS * 4);
    expect(released).toEqual([]);
    expect(acquired.sort()).toEqual(CLUSTERS);
    await leases.stop();
    expect(released.sort()).toEqual(CLUSTERS);
    streams.info = info;
  });

  it("keeps a lease whose consumer took longer than a lease to start", async () => {
    const { leases, acquired, released } = recordingLeases(TTL_MS * 3);
    await leases.start();
    await sleep(TTL_MS * 4);
    expect(released).toEqual([]);
    expect(acquired.sort()).toEqual(CLUSTERS);
    await leases.stop();
  });

  it("counts itself once however often it renews, and takes every cluster when alone", async () => {
    const { leases, acquired, released } = recordingLeases(0, 20);
    await leases.start();
    await sleep(TTL_MS);
    expect(acquired.sort()).toEqual(CLUSTERS);
    await leases.stop();
    expect(released.sort()).toEqual(CLUSTERS);
  });

  it("takes a cluster whose events come before its first heartbeat without waiting for the next pass", async () => {
    const acquired: string[] = [];
    // The next pass is 200 s away: only a look at the stream can take the cluster in this test.
    const leases = new ClusterLeases({
      bus,
      logger: silentLogger(),
      ttlMs: 600_000,
      onAcquire: async (cluster) => {
        acquired.push(cluster);
      },
      onRelease: async () => {},
      heardFrom: () => [],
    });
    await leases.start();
    expect(acquired).toEqual([]);
    // The agent's first list is on its way; its heartbeat is not.
    await bus.js.publish(bus.names.resources("early"), new Uint8Array([1]));
    const published = Date.now();
    while (!acquired.includes("early") && Date.now() - published < 20_000) await sleep(50);
    await leases.stop();
    expect(acquired).toEqual(["early"]);
  });

  it("runs no extra pass while every cluster with events is one the last pass knew", async () => {
    // On a fleet of thousands, clusters' backlogs fill and drain all the time; a pass for each
    // change in the count would run passes back to back beside the renewals.
    const { streams } = bus.jsm;
    const info = streams.info.bind(streams);
    let passes = 0;
    streams.info = async (...args) => {
      if (args[0] === bus.names.streams.resources && args[1]?.subjects_filter) passes += 1;
      return info(...args);
    };
    const leases = new ClusterLeases({
      bus,
      logger: silentLogger(),
      ttlMs: 600_000,
      onAcquire: async () => {},
      onRelease: async () => {},
      heardFrom: () => CLUSTERS,
    });
    try {
      await leases.start();
      const afterStart = passes;
      // Known clusters' events come and go in the stream, one subject more each time.
      for (const cluster of CLUSTERS) {
        await bus.js.publish(bus.names.resources(cluster), new Uint8Array([1]));
        await sleep(1_500);
      }
      expect(passes).toBe(afterStart);
    } finally {
      await leases.stop();
      streams.info = info;
    }
  });
});
