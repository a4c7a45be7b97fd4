import { create, EventType, ResourceEventBatchSchema, ResourceEventSchema } from "@atoll/contracts";
import { describe, expect, it } from "vitest";
import { batchToOps, InvalidObjectError, invalidBatchReason, MAX_OBJECT_DEPTH, parseObjects } from "./ops.js";

const NOW = 1_800_000_000_000;
const SYNC_ID = "001800000000000-0a1b2c3d";
const object = (uid: string) => new TextEncoder().encode(JSON.stringify({ metadata: { uid, name: uid } }));
const event = (type: EventType, extra: Record<string, unknown> = {}) =>
  create(ResourceEventSchema, {
    type,
    group: "apps",
    version: "v1",
    kind: "Deployment",
    resource: "deployments",
    syncId: SYNC_ID,
    ...extra,
  });
const batch = (events: ReturnType<typeof event>[], cluster = "prod-1") =>
  create(ResourceEventBatchSchema, { cluster, events });

describe("batchToOps", () => {
  it("maps object events, deletions, sync and epoch ends in order, each sweep in its scope; drops SYNC_BEGIN and bookmarks", () => {
    const ops = batchToOps(
      batch([
        event(EventType.SYNC_BEGIN),
        event(EventType.ADDED, {
          uid: "u1",
          name: "web",
          namespace: "prod",
          resourceVersion: 7n,
          object: object("u1"),
        }),
        event(EventType.BOOKMARK, { resourceVersion: 8n }),
        event(EventType.DELETED, { uid: "u0", resourceVersion: 9n }),
        event(EventType.SYNC_END),
        event(EventType.SYNC_END, { namespace: "prod" }),
        event(EventType.EPOCH_END, { group: "", resource: "", syncId: "001799999999000-00000000" }),
      ]),
    );
    expect(ops).toEqual([
      {
        op: "upsert",
        row: {
          cluster: "prod-1",
          uid: "u1",
          apiGroup: "apps",
          apiVersion: "v1",
          kind: "Deployment",
          resource: "deployments",
          namespace: "prod",
          name: "web",
          resourceVersion: 7n,
          syncId: SYNC_ID,
          objectJson: '{"metadata":{"uid":"u1","name":"u1"}}',
        },
      },
      { op: "delete", cluster: "prod-1", uid: "u0", resourceVersion: 9n, syncId: SYNC_ID },
      { op: "sweep", cluster: "prod-1", apiGroup: "apps", resource: "deployments", syncId: SYNC_ID },
      {
        op: "sweep",
        cluster: "prod-1",
        apiGroup: "apps",
        resource: "deployments",
        namespace: "prod",
        syncId: SYNC_ID,
      },
      { op: "sweep", cluster: "prod-1", syncId: "001799999999000-00000000" },
    ]);
  });
});

describe("invalidBatchReason", () => {
  const subject = "atoll.v1.res.prod-1";
  it.each([
    ["a well-formed batch", batch([event(EventType.ADDED, { uid: "u", object: object("u") })]), undefined],
    ["a batch for another cluster", batch([], "prod-2"), /names cluster "prod-2"/],
    ["an event without a type", batch([event(EventType.UNSPECIFIED)]), /no type/],
    ["an object event without uid", batch([event(EventType.ADDED, { object: object("u") })]), /no uid/],
    [
      "an object event without JSON",
      batch([event(EventType.MODIFIED, { uid: "u", object: new Uint8Array([1, 2]) })]),
      /no JSON/,
    ],
    ["a deletion without uid", batch([event(EventType.DELETED)]), /no uid/],
    [
      "a sync marker without resource",
      batch([event(EventType.SYNC_END, { resource: "" })]),
      /names no resource/,
    ],
    [
      "an epoch end, which names no resource",
      batch([event(EventType.EPOCH_END, { resource: "", group: "" })]),
      undefined,
    ],
    ["an event without a sync id", batch([event(EventType.SYNC_END, { syncId: "" })]), /no valid sync id/],
    [
      "a forged sync id that sorts after every real one",
      batch([event(EventType.SYNC_END, { syncId: "zzzz" })]),
      /no valid sync id: "zzzz"/,
    ],
    [
      "a sync id from the future",
      batch([event(EventType.DELETED, { uid: "u", syncId: "001800000600000-0a1b2c3d" })]),
      /600 s ahead of the hub's clock/,
    ],
    [
      "a sync id within the clocks' tolerance",
      batch([event(EventType.DELETED, { uid: "u", syncId: "001800000060000-0a1b2c3d" })]),
      undefined,
    ],
  ])("%s", (_name, input, expected) => {
    const reason = invalidBatchReason(input, subject, NOW);
    if (expected === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(expected);
  });
});

describe("parseObjects", () => {
  const upsert = (text: string) =>
    batchToOps(batch([event(EventType.ADDED, { uid: "u1", object: new TextEncoder().encode(text) })]));

  it("parses each upserted object once, for the rules", () => {
    const ops = upsert('{"metadata":{"name":"web"}}');
    expect(parseObjects(ops).get(ops[0]!)).toEqual({ metadata: { name: "web" } });
  });

  it.each([
    ["text that closes the object and forges a row for another cluster", '{}},{"c":"victim","u":"x","o":{}'],
    ["text that adds keys after the object", '{},"c":"victim"'],
    ["a truncated object", '{"metadata":{"name":"web"}'],
    ["an array", "[1,2]"],
    ["a string", '"{}"'],
    ["an object nesting 20,000 levels", `{"a":${"[".repeat(20_000)}${"]".repeat(20_000)}}`],
  ])("refuses %s", (_, text) => {
    expect(() => parseObjects(upsert(text))).toThrow(InvalidObjectError);
  });

  it("accepts an object as deep as the limit", () => {
    const text = `{"a":${"[".repeat(MAX_OBJECT_DEPTH - 1)}${"]".repeat(MAX_OBJECT_DEPTH - 1)}}`;
    expect(() => parseObjects(upsert(text))).not.toThrow();
  });

  it("hands the index NUL characters as U+FFFD, which jsonb can hold", () => {
    const [op] = upsert(JSON.stringify({ data: { k: "a\u0000b" } }));
    expect(op?.op === "upsert" && op.row.objectJson).toBe('{"data":{"k":"a\\ufffdb"}}');
  });
});
