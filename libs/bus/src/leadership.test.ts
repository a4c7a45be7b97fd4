import { randomBytes } from "node:crypto";
import { until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bus } from "./bus.js";
import { Leadership, whileLeading } from "./leadership.js";

const LEASE_MS = 1_500;

describe("leadership of a role", () => {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const buses: Bus[] = [];
  const connect = async () => {
    const bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "leadership-test",
      prefix,
      logger: silentLogger(),
    });
    buses.push(bus);
    return bus;
  };
  const contender = async () =>
    new Leadership(await connect(), { role: "scheduler", leaseMs: LEASE_MS, logger: silentLogger() });
  beforeAll(async () => {
    await (await connect()).ensureTopology();
  });
  afterAll(async () => {
    await buses[0]?.removeTopology();
    for (const bus of buses) await bus.close();
  });

  it("has one leader; a standby takes over at once when it resigns, and within the lease when it dies", async () => {
    const first = await contender();
    await first.lead();
    const second = await contender();
    let secondLeads = false;
    const secondLeading = second.lead().then(() => {
      secondLeads = true;
    });
    // Three leases on, the first still renews and the second still waits.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 3));
    expect(secondLeads).toBe(false);
    const resignedAt = Date.now();
    await first.resign();
    await secondLeading;
    expect(Date.now() - resignedAt).toBeLessThan(LEASE_MS);
    // The second leader dies without a word: its bus closes, so it renews no more.
    const third = await contender();
    let thirdLeads = false;
    const thirdLeading = third.lead().then(() => {
      thirdLeads = true;
    });
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    expect(thirdLeads).toBe(false);
    const diedAt = Date.now();
    await buses[2]!.close();
    await thirdLeading;
    // The lease lapses, then the standby's next try (a third of a lease apart) wins.
    expect(Date.now() - diedAt).toBeLessThan(LEASE_MS * 2);
    await third.resign();
    // Neither the resigned nor the dead leader was told it lost: resigning is not losing.
    const settled = await Promise.race([first.lost.then(() => "lost"), Promise.resolve("still")]);
    expect(settled).toBe("still");
  });

  it("tells a leader it lost when another process holds the lease", async () => {
    const leader = await contender();
    await leader.lead();
    // Another process takes the key (as it would once this leader's renewals stopped arriving).
    const bus = buses.at(-1)!;
    const kv = await new Kvm(bus.js).open(bus.names.leaderBucket("scheduler"));
    await kv.put("scheduler", new TextEncoder().encode("someone else"));
    const reason = await leader.lost;
    expect(reason).toMatch(/another process holds the lease/);
    await until(
      async () => (await kv.get("scheduler"))?.string() === "someone else",
      "the other holder kept",
    );
  });

  it("stops its work when the lease is lost and leads again once it is free", async () => {
    const bus = await connect();
    const events: string[] = [];
    const role = whileLeading(
      bus,
      { role: "scheduler", leaseMs: LEASE_MS, logger: silentLogger() },
      async () => {
        events.push("start");
        return { stop: async () => void events.push("stop") };
      },
    );
    const kv = await new Kvm(bus.js).open(bus.names.leaderBucket("scheduler"));
    // The previous test left the key to "someone else"; this process waits for it to lapse.
    await until(() => role.leading(), "leading", 10_000, 50);
    await kv.put("scheduler", new TextEncoder().encode("someone else"));
    await until(() => events.join() === "start,stop", "the work stopped", 10_000, 50);
    expect(role.leading()).toBe(false);
    await until(() => role.leading(), "leading again once the other's key lapsed", 10_000, 50);
    expect(events).toEqual(["start", "stop", "start"]);
    await role.stop();
    expect(events).toEqual(["start", "stop", "start", "stop"]);
    // Resigned: the key is gone, so a standby could lead at once.
    expect((await kv.get("scheduler"))?.operation ?? "DEL").not.toBe("PUT");
  });

  it("gives the lease up and leads again when starting its work fails", async () => {
    const bus = await connect();
    const events: string[] = [];
    const kv = await new Kvm(bus.js).open(bus.names.leaderBucket("scheduler"));
    let holderWhenFailed: string | undefined;
    const role = whileLeading(
      bus,
      { role: "scheduler", leaseMs: LEASE_MS, logger: silentLogger() },
      async () => {
        if (events.length === 0) {
          events.push("failed");
          holderWhenFailed = (await kv.get("scheduler"))?.string();
          // As a consumer's creation does when JetStream answers too late.
          throw new Error("timeout");
        }
        events.push("start");
        return { stop: async () => void events.push("stop") };
      },
    );
    await until(() => role.leading(), "leading after the failed start", 10_000, 50);
    expect(events).toEqual(["failed", "start"]);
    // It led when the start failed, then gave the key up before trying again.
    expect(holderWhenFailed).toBeDefined();
    await role.stop();
    expect(events).toEqual(["failed", "start", "stop"]);
  });
});
