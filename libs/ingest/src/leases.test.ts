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
  /**
   * One indexer's leases, recording what it takes and gives back; its consumers take startMs to
   * start, and stopping one waits for `stopped` when given.
   */
  const recordingLeases = (startMs: number, renewMs?: number, stopped?: Promise<void>) => {
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
        await stopped;
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

  it("goes on renewing the other leases while a lost cluster's consumer takes long to stop", async () => {
    // A consumer in the middle of a large batch stops only once the batch is written. The renewals
    // waited for it (up to 5 s), every lease they had not reached lapsed meanwhile, and at 5,000
    // clusters each pass lost the next 64 leases for good.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const { leases, acquired, released } = recordingLeases(0, undefined, stopped);
    await leases.start();
    expect(acquired.sort()).toEqual(CLUSTERS);
    const bucket = await bus.bucket(bus.names.leasesBucket, { ttlMs: TTL_MS });
    await bucket.put("c1", new TextEncoder().encode("another indexer"));
    // Past the 5 s a renewal waited for the stop, and past the renewal after it.
    await sleep(TTL_MS * 7);
    expect(released).toEqual(["c1"]);
    expect(acquired.sort()).toEqual(CLUSTERS);
    stop();
    await leases.stop();
    // c1's lease lapsed meanwhile, so a pass may have taken it again once its consumer stopped:
    // whatever was taken is given back.
    expect(released.sort()).toEqual(acquired.sort());
    expect(new Set(released)).toEqual(new Set(CLUSTERS));
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
