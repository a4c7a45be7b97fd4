import { randomBytes } from "node:crypto";
import { codecFor, create, PlacementRequestSchema } from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { AckPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bus, type Delivery } from "./bus.js";
import { inFlightLimit } from "./topology.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codec = codecFor(PlacementRequestSchema);
const request = (name: string) => create(PlacementRequestSchema, { name, kind: "Deployment" });

describe("Bus", () => {
  let bus: Bus;
  const prefix = `t${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "bus-test",
      prefix,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
  });
  afterAll(async () => {
    await bus.removeTopology();
    await bus.close();
  });

  it("declares its topology idempotently", async () => {
    await bus.ensureTopology();
    const names: string[] = [];
    for await (const stream of bus.jsm.streams.list()) names.push(stream.config.name);
    expect(names).toEqual(expect.arrayContaining(Object.values(bus.names.streams)));
    expect(names).toContain(`KV_${bus.names.clustersBucket}`);
  });

  it("drops a republished message with the same Nats-Msg-Id", async () => {
    const subject = bus.names.placement();
    const first = await bus.publish(subject, codec, request("a"), "dedupe-1");
    const again = await bus.publish(subject, codec, request("a"), "dedupe-1");
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    expect(again.seq).toBe(first.seq);
  });

  it("retries a failing batch in order and acks nothing until the handler succeeds", async () => {
    const subject = bus.names.work("retry-cluster");
    for (const name of ["m1", "m2", "m3"]) await bus.publish(subject, codec, request(name), `retry-${name}`);
    const calls: string[][] = [];
    const ackFloorsDuringFailures: number[] = [];
    let failures = 2;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "retry-test",
      filterSubject: subject,
      codec,
      handler: async (batch: Delivery<ReturnType<typeof request>>[]) => {
        calls.push(batch.map((d) => d.data.name));
        if (failures-- > 0) {
          const info = await bus.jsm.consumers.info(bus.names.streams.work, "retry-test");
          ackFloorsDuringFailures.push(info.ack_floor.stream_seq);
          throw new Error("database unavailable");
        }
      },
    });
    await until(
      async () =>
        (await bus.jsm.consumers.info(bus.names.streams.work, "retry-test")).ack_floor.stream_seq === 3,
    );
    await consumption.stop();
    expect(ackFloorsDuringFailures).toEqual([0, 0]);
    expect(calls.flat().filter((n) => n === "m1")).toHaveLength(3);
    expect(calls.at(-1)?.at(-1)).toBe("m3");
    for (const call of calls) expect(call).toEqual([...call].sort());
  });

  it("dead-letters undecodable and invalid messages with the reason, and keeps going", async () => {
    const subject = bus.names.workStatus("dlq-cluster");
    await bus.js.publish(subject, new Uint8Array([0xff, 0xff, 0xff]));
    await bus.publish(subject, codec, request("reject-me"), "dlq-invalid");
    await bus.publish(subject, codec, request("good"), "dlq-good");
    const handled: string[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.workStatus,
      durable: "dlq-test",
      filterSubject: subject,
      codec,
      validate: (data) => (data.name === "reject-me" ? "name is not allowed" : undefined),
      handler: async (batch) => {
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await until(() => handled.includes("good"));
    await consumption.stop();
    expect(handled).toEqual(["good"]);
    const reasons: string[] = [];
    for (const seq of [1, 2]) {
      const message = await bus.jsm.streams.getMessage(bus.names.streams.deadLetter, { seq });
      reasons.push(message?.header.get("Atoll-Reason") ?? "");
    }
    expect(reasons[0]).toMatch(/undecodable atoll\.v1\.PlacementRequest/);
    expect(reasons[1]).toBe("name is not allowed");
  });

  it("dead-letters the one message an error of any class comes from, and retries transient errors", async () => {
    const subject = bus.names.work("fault-cluster");
    const names = ["f1", "f2", "poison", "f3", "f4", "f5", "f6"];
    for (const name of names) await bus.publish(subject, codec, request(name), `fault-${name}`);
    const deadBefore = (await bus.jsm.streams.info(bus.names.streams.deadLetter)).state.messages;
    const handled: string[] = [];
    let transientFailures = 2;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "fault-test",
      filterSubject: subject,
      codec,
      maxBatch: 10,
      transient: (error) => (error as Error).message === "connection reset",
      handler: async (batch) => {
        // Transient failures first: they must be retried, not blamed on a message.
        if (transientFailures-- > 0) throw new Error("connection reset");
        // Not a class anyone listed as the message's fault: it still is, as nothing else failed.
        const deep = (n: number): unknown => (n === 0 ? {} : { a: deep(n - 1) });
        if (batch.some((d) => d.data.name === "poison")) JSON.stringify(deep(1e6));
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await until(
      async () =>
        (await bus.jsm.consumers.info(bus.names.streams.work, "fault-test")).num_pending === 0 &&
        (await bus.jsm.consumers.info(bus.names.streams.work, "fault-test")).num_ack_pending === 0,
    );
    await consumption.stop();
    expect(handled).toEqual(["f1", "f2", "f3", "f4", "f5", "f6"]);
    const dead = await bus.jsm.streams.info(bus.names.streams.deadLetter);
    expect(dead.state.messages).toBe(deadBefore + 1);
    const message = await bus.jsm.streams.getMessage(bus.names.streams.deadLetter, {
      seq: dead.state.last_seq,
    });
    expect(message?.header.get("Atoll-Reason")).toBe(
      "the handler failed on it: RangeError: Maximum call stack size exceeded",
    );
    expect(codec.decode(message!.data).name).toBe("poison");
    expect(bus.deadLettered.get("fault-test")).toBe(1);
  });

  it("splits a batch that keeps failing transiently, and dead-letters the message that fails while the store answers", async () => {
    const subject = bus.names.work("slow-cluster");
    for (const name of ["s1", "slow", "s2"]) await bus.publish(subject, codec, request(name), `slow-${name}`);
    const handled: string[] = [];
    let storeDown = true;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "slow-test",
      filterSubject: subject,
      codec,
      maxBatch: 10,
      transient: (error) => /timeout/.test((error as Error).message),
      dependenciesAnswer: async () => !storeDown,
      handler: async (batch) => {
        // A statement this message makes times out: that looks like the store's fault at first.
        if (batch.some((d) => d.data.name === "slow")) throw new Error("statement timeout");
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await until(async () => handled.includes("s1"));
    // While the store does not answer, the message is never blamed.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(handled).toEqual(["s1"]);
    storeDown = false;
    await until(async () => handled.includes("s2"));
    await consumption.stop();
    expect(handled).toEqual(["s1", "s2"]);
    const dead = await bus.jsm.streams.info(bus.names.streams.deadLetter);
    const message = await bus.jsm.streams.getMessage(bus.names.streams.deadLetter, {
      seq: dead.state.last_seq,
    });
    expect(codec.decode(message!.data).name).toBe("slow");
    expect(message?.header.get("Atoll-Reason")).toMatch(
      /^the handler failed on it \d+ times while its dependencies answered: Error: statement timeout$/,
    );
  });

  it("does not blame a message for the first failure after an outage ends", async () => {
    const subject = bus.names.work("outage-cluster");
    await bus.publish(subject, codec, request("caught-in-outage"), "outage-1");
    const handled: string[] = [];
    let storeDown = true;
    let brokenConnections = 1;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "outage-test",
      filterSubject: subject,
      codec,
      transient: () => true,
      dependenciesAnswer: async () => !storeDown,
      handler: async (batch) => {
        if (storeDown) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        // The store is back, but the pool's connection from before the outage is not.
        if (brokenConnections-- > 0)
          throw Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" });
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await sleep(2_500);
    storeDown = false;
    await until(() => handled.length > 0, "the message to be handled after the outage", 20_000);
    await consumption.stop();
    expect(handled).toEqual(["caught-in-outage"]);
    expect((await bus.deadLetters({ consumer: "outage-test" })).counts["outage-test"]).toBeUndefined();
  }, 30_000);

  it("retries, and never dead-letters, messages whose handler finds JetStream not answering", async () => {
    // While a NATS server is replaced, a stream has no leader for seconds: JetStream publishes to it
    // get no responder, though the connection and the dead-letter stream answer. No message causes that.
    const subject = bus.names.work("leaderless-cluster");
    for (const name of ["l1", "l2", "l3"])
      await bus.publish(subject, codec, request(name), `leaderless-${name}`);
    const handled: string[] = [];
    let leaderless = 4;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "leaderless-test",
      filterSubject: subject,
      codec,
      maxBatch: 4,
      handler: async (batch) => {
        // The real error: a JetStream publish nobody answers.
        if (leaderless-- > 0) await bus.js.publish(`${prefix}.nobody.listens`, new Uint8Array());
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await until(() => handled.includes("l3"), "the messages to be handled once JetStream answers", 40_000);
    await consumption.stop();
    expect(handled).toEqual(["l1", "l2", "l3"]);
    expect(
      (await bus.deadLetters({ consumer: "leaderless-test" })).counts["leaderless-test"],
    ).toBeUndefined();
  }, 60_000);

  it("keeps messages queued behind a retried batch from being sent again", async () => {
    const subject = bus.names.work("queued-cluster");
    for (const name of ["q1", "q2", "q3"]) await bus.publish(subject, codec, request(name), `queued-${name}`);
    const handled: string[] = [];
    const firstTried = Date.now();
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "queued-test",
      filterSubject: subject,
      codec,
      maxBatch: 1,
      ackWaitMs: 1_000,
      transient: () => true,
      dependenciesAnswer: async () => false,
      handler: async (batch: Delivery<ReturnType<typeof request>>[]) => {
        // The first message meets an outage for three ack waits; the others wait their turn.
        if (batch[0]!.data.name === "q1" && Date.now() - firstTried < 3_000)
          throw Object.assign(new Error("store unavailable"), { code: "ECONNREFUSED" });
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    await until(() => handled.includes("q3"), "the queued messages to be handled", 20_000);
    await sleep(1_500);
    await consumption.stop();
    expect(handled).toEqual(["q1", "q2", "q3"]);
  }, 30_000);

  it("dead-letters a message once, though a consumer that died before acking sees it again", async () => {
    const subject = bus.names.workStatus("dlq-twice");
    await bus.publish(subject, codec, request("seen-twice"), "dlq-twice");
    await bus.jsm.consumers.add(bus.names.streams.workStatus, {
      durable_name: "dlq-twice",
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 1_000_000_000, // 1 s, in nanoseconds
    });
    const consumer = await bus.js.consumers.get(bus.names.streams.workStatus, "dlq-twice");
    const first = await consumer.next({ expires: 5_000 });
    await bus.deadLetter(first!, "dlq-twice", "first delivery");
    // Never acked: the message comes back after ack_wait, as it would to the consumer's successor.
    const second = await consumer.next({ expires: 5_000 });
    expect(second?.seq).toBe(first?.seq);
    await bus.deadLetter(second!, "dlq-twice", "second delivery");
    second!.ack();
    const { counts } = await bus.deadLetters({ consumer: "dlq-twice" });
    expect(counts["dlq-twice"]).toBe(1);
  });

  it("publishes many messages at once, each stored once, and says when nothing stores one", async () => {
    const subject = bus.names.work("publish-all");
    const messages = Array.from({ length: 300 }, (_, i) => ({
      subject,
      data: codec.encode(request(`many-${i}`)),
      msgId: `publish-all-${i}`,
    }));
    await bus.publishAll(messages);
    // Again, as a retried batch would: every message is a repeat, and nothing lands twice.
    await bus.publishAll(messages);
    const info = await bus.jsm.streams.info(bus.names.streams.work, { subjects_filter: subject });
    expect(info.state.subjects?.[subject]).toBe(300);
    // No stream takes this subject: nobody answers, and the publish says so rather than hang.
    await expect(
      bus.publishAll([{ subject: `${prefix}-nowhere.x`, data: new Uint8Array(), msgId: "nowhere" }]),
    ).rejects.toThrow(/no responders/);
  });

  it("handles the next batch while the last one finishes, and acks each on its own", async () => {
    const subject = bus.names.work("overlap-cluster");
    for (const name of ["o1", "o2", "o3", "o4"])
      await bus.publish(subject, codec, request(name), `overlap-${name}`);
    let running = 0;
    let most = 0;
    const handled: string[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "overlap-test",
      filterSubject: subject,
      codec,
      maxBatch: 1,
      concurrentBatches: 2,
      handler: async (batch: Delivery<ReturnType<typeof request>>[]) => {
        running += 1;
        most = Math.max(most, running);
        await sleep(200);
        handled.push(...batch.map((d) => d.data.name));
        running -= 1;
      },
    });
    await until(() => handled.length === 4, "every batch to be handled", 10_000);
    await consumption.stop();
    expect(most).toBe(2);
    expect([...handled].sort()).toEqual(["o1", "o2", "o3", "o4"]);
    // Acks travel to the server on their own: every one arrives, none is left pending.
    await until(async () => {
      const consumer = await bus.jsm.consumers.info(bus.names.streams.work, "overlap-test");
      return consumer.num_ack_pending + consumer.num_pending === 0;
    }, "every batch acked");
  });

  it("prepares the next batch while the last one's handler waits, and hands batches over in order", async () => {
    const subject = bus.names.work("prepare-cluster");
    for (const name of ["p1", "p2"]) await bus.publish(subject, codec, request(name), `prepare-${name}`);
    const events: string[] = [];
    let secondPrepared!: () => void;
    const secondPreparedOnce = new Promise<void>((resolve) => (secondPrepared = resolve));
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "prepare-test",
      filterSubject: subject,
      codec,
      maxBatch: 1,
      prepare: (batch: Delivery<ReturnType<typeof request>>[]) => {
        const name = batch[0]!.data.name;
        events.push(`prepare ${name}`);
        if (name === "p2") secondPrepared();
        return name.toUpperCase();
      },
      handler: async (batch, prepared) => {
        events.push(`handle ${prepared}`);
        // The first batch's writes are held until the next batch has been prepared alongside.
        if (prepared === "P1") await secondPreparedOnce;
        events.push(`done ${batch[0]!.data.name}`);
      },
    });
    try {
      await until(() => events.includes("done p2"), "both batches handled", 10_000);
    } finally {
      await consumption.stop();
    }
    expect(events.filter((event) => !event.startsWith("prepare"))).toEqual([
      "handle P1",
      "done p1",
      "handle P2",
      "done p2",
    ]);
    expect(events.indexOf("prepare p2")).toBeLessThan(events.indexOf("done p1"));
  });

  it("takes a preparation that fails as the batch failing: the message at fault is dead-lettered, the rest handled in order", async () => {
    const subject = bus.names.work("prepare-fault-cluster");
    for (const name of ["q1", "q2", "poison", "q4"])
      await bus.publish(subject, codec, request(name), `prepare-fault-${name}`);
    const deadBefore = (await bus.jsm.streams.info(bus.names.streams.deadLetter)).state.messages;
    const handled: string[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "prepare-fault-test",
      filterSubject: subject,
      codec,
      maxBatch: 2,
      prepare: (batch: Delivery<ReturnType<typeof request>>[]) => {
        if (batch.some((d) => d.data.name === "poison")) throw new Error("cannot be prepared");
        return batch.map((d) => d.data.name);
      },
      handler: async (_batch, prepared) => {
        await sleep(50);
        handled.push(...prepared);
      },
    });
    try {
      await until(() => handled.includes("q4"), "the batch after the fault", 10_000);
    } finally {
      await consumption.stop();
    }
    expect(handled).toEqual(["q1", "q2", "q4"]);
    const dead = await bus.jsm.streams.info(bus.names.streams.deadLetter);
    expect(dead.state.messages).toBe(deadBefore + 1);
    const message = await bus.jsm.streams.getMessage(bus.names.streams.deadLetter, {
      seq: dead.state.last_seq,
    });
    expect(message?.header.get("Atoll-Reason")).toMatch(/cannot be prepared/);
  });

  it("holds no more of a backlog than its batches need: the rest waits in the stream", async () => {
    const subject = bus.names.work("backlog-cluster");
    const count = 200;
    await bus.publishAll(
      Array.from({ length: count }, (_, i) => ({
        subject,
        data: codec.encode(request(String(i))),
        msgId: `backlog-${i}`,
      })),
    );
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: number[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "backlog-test",
      filterSubject: subject,
      codec,
      maxBatch: 5,
      handler: async (batch: Delivery<ReturnType<typeof request>>[]) => {
        await held;
        handled.push(...batch.map((d) => Number(d.data.name)));
      },
    });
    try {
      // The first batch is held; give the server time to deliver whatever it would.
      await sleep(1_500);
      const info = await bus.jsm.consumers.info(bus.names.streams.work, "backlog-test");
      expect(info.config.max_ack_pending).toBe(inFlightLimit(5));
      expect(info.num_ack_pending).toBe(inFlightLimit(5));
      expect(info.num_pending).toBe(count - inFlightLimit(5));
      release();
      await until(() => handled.length >= count, "the whole backlog handled", 30_000);
    } finally {
      release();
      await consumption.stop();
    }
    expect(handled).toEqual(Array.from({ length: count }, (_, i) => i));
  }, 40_000);

  it("drains a backlog of many small messages in full batches, with no pull left to time out", async () => {
    // A pull bounded by bytes is ended by the client only after two missed heartbeats when its
    // count runs out first: 1,000 placement requests took minutes, a hundred per stalled pull.
    const subject = bus.names.work("small-cluster");
    const count = 1_000;
    for (let i = 0; i < count; i += 250)
      await bus.publishAll(
        Array.from({ length: 250 }, (_, j) => ({
          subject,
          data: codec.encode(request(String(i + j))),
          msgId: `small-${i + j}`,
        })),
      );
    const handled: number[] = [];
    let largestBatch = 0;
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "small-test",
      filterSubject: subject,
      codec,
      maxBatch: 256,
      handler: async (batch: Delivery<ReturnType<typeof request>>[]) => {
        largestBatch = Math.max(largestBatch, batch.length);
        handled.push(...batch.map((d) => Number(d.data.name)));
        // Each batch takes a while, as a scheduler's decisions do, so the next fills meanwhile.
        await sleep(100);
      },
    });
    try {
      await until(() => handled.length >= count, "every small message handled", 60_000);
    } finally {
      await consumption.stop();
    }
    expect(handled).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(largestBatch).toBe(256);
  }, 90_000);

  it("rejects cluster names that are not DNS labels before they become subjects", () => {
    expect(() => bus.names.resources("a.b")).toThrow(/DNS label/);
    expect(() => bus.names.resources("*")).toThrow(/DNS label/);
  });
});
