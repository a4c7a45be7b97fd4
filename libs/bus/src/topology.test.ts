import { randomBytes } from "node:crypto";
import { codecFor, create, PlacementRequestSchema } from "@atoll/contracts";
import { type Logger, silentLogger } from "@atoll/log";
import { AckPolicy, RetentionPolicy } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import { Bus, isBacklogFull } from "./bus.js";
import { inFlightLimit, streamConfigs, WORK_MAX_BATCH } from "./topology.js";

const codec = codecFor(PlacementRequestSchema);
const request = (name: string) => create(PlacementRequestSchema, { name, kind: "Deployment" });
const BACKLOG = 10;

/** A logger that keeps what was warned, to see what the topology told the operator. */
function recordingLogger(warnings: string[]): Logger {
  const logger = silentLogger();
  const record = (_: object, message: string) => warnings.push(message);
  return Object.assign(Object.create(logger), { warn: record, child: () => recordingLogger(warnings) });
}

describe("stream topology", () => {
  const buses: Bus[] = [];
  const connect = async (prefix: string, logger: Logger = silentLogger()) => {
    const bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "topology-test",
      prefix,
      logger,
      topology: { clusterBacklog: BACKLOG },
    });
    buses.push(bus);
    return bus;
  };
  afterEach(async () => {
    await buses[0]?.removeTopology();
    for (const bus of buses.splice(0)) await bus.close();
  });

  it("gives each cluster its own backlog in the streams agents write, freed as the hub acks", async () => {
    const bus = await connect(`t${randomBytes(4).toString("hex")}`);
    await bus.ensureTopology();
    for (const [stream, subject] of [
      [bus.names.streams.resources, bus.names.resources],
      [bus.names.streams.workStatus, bus.names.workStatus],
    ] as const) {
      for (let i = 0; i < BACKLOG; i++)
        await bus.publish(subject("flood"), codec, request(`f${i}`), `${stream}-f${i}`);
      const refused = await bus
        .publish(subject("flood"), codec, request("one-too-many"), `${stream}-over`)
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(isBacklogFull(refused), `${stream} refuses the flooding cluster`).toBe(true);

      // Every other cluster goes on while the flooding one waits.
      const other = await bus.publish(subject("quiet"), codec, request("q"), `${stream}-quiet`);
      expect(other.duplicate).toBe(false);

      // Once the hub handles one of the flood's messages, there is room for one more.
      await bus.jsm.consumers.add(stream, {
        durable_name: "drain-flood",
        filter_subject: subject("flood"),
        ack_policy: AckPolicy.Explicit,
      });
      const message = await (await bus.js.consumers.get(stream, "drain-flood")).next({ expires: 5_000 });
      await message!.ackAck();
      const after = await bus.publish(subject("flood"), codec, request("room-again"), `${stream}-again`);
      expect(after.duplicate).toBe(false);
      const info = await bus.jsm.streams.info(stream, { subjects_filter: ">" });
      expect(info.state.subjects?.[subject("flood")]).toBe(BACKLOG);
    }
  });

  it("bounds at a start the work consumers that agents made before the bound pull through", async () => {
    const bus = await connect(`t${randomBytes(4).toString("hex")}`);
    await bus.ensureTopology();
    const { work } = bus.names.streams;
    // As the registry made them before: 20,000 unacked works, all of which an agent took in.
    await bus.jsm.consumers.add(work, {
      durable_name: bus.names.workConsumer("old-agent"),
      ack_policy: AckPolicy.Explicit,
      filter_subject: bus.names.work("old-agent"),
      max_ack_pending: 20_000,
    });
    await bus.jsm.consumers.add(work, {
      durable_name: "someone-elses",
      ack_policy: AckPolicy.Explicit,
      filter_subject: bus.names.work("old-agent"),
      max_ack_pending: 20_000,
    });
    await bus.ensureTopology();
    const agents = await bus.jsm.consumers.info(work, bus.names.workConsumer("old-agent"));
    expect(agents.config.max_ack_pending).toBe(inFlightLimit(WORK_MAX_BATCH));
    expect((await bus.jsm.consumers.info(work, "someone-elses")).config.max_ack_pending).toBe(20_000);
  });

  it("resumes a crashed consumer of a work queue from its ack floor", async () => {
    const bus = await connect(`t${randomBytes(4).toString("hex")}`);
    await bus.ensureTopology();
    const subject = bus.names.placement();
    for (const name of ["p1", "p2", "p3"]) await bus.publish(subject, codec, request(name), `resume-${name}`);
    await bus.ensureConsumer(bus.names.streams.placement, "resume-test", subject);
    const consumer = await bus.js.consumers.get(bus.names.streams.placement, "resume-test");
    await (await consumer.next({ expires: 5_000 }))!.ackAck();
    // Delivered and never acked: what a consumer that crashed mid-batch leaves behind.
    expect((await consumer.next({ expires: 5_000 }))?.seq).toBe(2);

    const handled: string[] = [];
    const consumption = await bus.consume({
      stream: bus.names.streams.placement,
      durable: "resume-test",
      filterSubject: subject,
      codec,
      handler: async (batch) => {
        handled.push(...batch.map((d) => d.data.name));
      },
    });
    const deadline = Date.now() + 10_000;
    while (handled.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumption.stop();
    expect(handled).toEqual(["p2", "p3"]);
  });

  it("moves a drained stream to its new retention and keeps one that still holds unhandled messages", async () => {
    const warnings: string[] = [];
    const bus = await connect(`t${randomBytes(4).toString("hex")}`, recordingLogger(warnings));
    const old = (name: string) => {
      const config = streamConfigs(bus.names).find((c) => c.name === name)!;
      return {
        ...config,
        retention: RetentionPolicy.Limits,
        max_msgs_per_subject: -1,
        discard_new_per_subject: false,
      };
    };
    // The streams as an earlier Atoll made them: events retained for days after they were indexed.
    await bus.jsm.streams.add(old(bus.names.streams.resources));
    await bus.jsm.streams.add(old(bus.names.streams.workStatus));
    await bus.publish(bus.names.resources("indexed"), codec, request("done"), "old-done");
    await bus.jsm.consumers.add(bus.names.streams.resources, {
      durable_name: "indexer-indexed",
      filter_subject: bus.names.resources("indexed"),
      ack_policy: AckPolicy.Explicit,
    });
    const consumer = await bus.js.consumers.get(bus.names.streams.resources, "indexer-indexed");
    await (await consumer.next({ expires: 5_000 }))!.ackAck();
    // A status no consumer has read yet.
    await bus.publish(bus.names.workStatus("waiting"), codec, request("pending"), "old-pending");

    await bus.ensureTopology();
    const retention = async (stream: string) => (await bus.jsm.streams.info(stream)).config.retention;
    expect(await retention(bus.names.streams.resources)).toBe(RetentionPolicy.Workqueue);
    expect(await retention(bus.names.streams.workStatus)).toBe(RetentionPolicy.Limits);
    expect((await bus.jsm.streams.info(bus.names.streams.workStatus)).state.messages).toBe(1);
    expect(warnings.some((w) => /still holds unhandled messages/.test(w))).toBe(true);
  });
});
