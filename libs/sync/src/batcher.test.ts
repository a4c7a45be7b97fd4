import { create, type ResourceEventBatch, ResourceEventSchema } from "@atoll/contracts";
import { silentLogger } from "@atoll/log";
import { describe, expect, it } from "vitest";
import { type BatcherOptions, ResourceBatcher } from "./batcher.js";

const event = (n: number, size = 10) =>
  create(ResourceEventSchema, { uid: `u${n}`, object: new Uint8Array(size) });

function recorder(failFirst = 0) {
  const sent: { batch: ResourceEventBatch; msgId: string }[] = [];
  const attempts: string[] = [];
  let failures = failFirst;
  return {
    sent,
    attempts,
    publish: async (batch: ResourceEventBatch, msgId: string) => {
      attempts.push(msgId);
      if (failures-- > 0) throw new Error("bus down");
      sent.push({ batch, msgId });
    },
  };
}

const batcherFor = (r: ReturnType<typeof recorder>, options: Partial<BatcherOptions>) =>
  new ResourceBatcher({ cluster: "c", agentId: "a", publish: r.publish, logger: silentLogger(), ...options });

describe("ResourceBatcher", () => {
  it("sends what is pending before an event that would carry the batch past its byte bound", async () => {
    const r = recorder();
    const batcher = batcherFor(r, { maxBytes: 1000, lingerMs: 1000 });
    for (const [n, size] of [
      [0, 300],
      [1, 300],
      [2, 600],
      [3, 2000],
      [4, 10],
    ] as const)
      await batcher.add(event(n, size));
    await batcher.flush();
    expect(r.sent.map((s) => s.batch.events.map((e) => e.uid))).toEqual([
      ["u0", "u1"],
      ["u2"],
      ["u3"],
      ["u4"],
    ]);
  });

  it("cuts batches at the event bound and keeps every event in order", async () => {
    const r = recorder();
    const batcher = batcherFor(r, { maxEvents: 3, lingerMs: 1000 });
    for (let i = 0; i < 7; i++) await batcher.add(event(i));
    await batcher.flush();
    expect(r.sent.map((s) => s.batch.events.length)).toEqual([3, 3, 1]);
    expect(r.sent.flatMap((s) => s.batch.events.map((e) => e.uid))).toEqual([
      "u0",
      "u1",
      "u2",
      "u3",
      "u4",
      "u5",
      "u6",
    ]);
    expect(r.sent.map((s) => s.msgId)).toEqual(["c:a:1", "c:a:2", "c:a:3"]);
  });

  it("cuts batches at the byte bound", async () => {
    const r = recorder();
    const batcher = batcherFor(r, { maxBytes: 2200, lingerMs: 1000 });
    for (let i = 0; i < 4; i++) await batcher.add(event(i, 900));
    await batcher.flush();
    expect(r.sent.map((s) => s.batch.events.length)).toEqual([2, 2]);
  });

  it("sends a partial batch after the linger time without a flush", async () => {
    const r = recorder();
    const batcher = batcherFor(r, { lingerMs: 10 });
    await batcher.add(event(1));
    expect(r.sent).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(r.sent).toHaveLength(1);
  });

  it("retries a failed publish with the same message id, so the stream dedupes it", async () => {
    const r = recorder(2);
    const batcher = batcherFor(r, { maxEvents: 1 });
    await batcher.add(event(1));
    expect(r.attempts).toEqual(["c:a:1", "c:a:1", "c:a:1"]);
    expect(r.sent).toHaveLength(1);
  });
});
