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
});
