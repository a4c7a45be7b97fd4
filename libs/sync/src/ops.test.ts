import { create, EventType, ResourceEventBatchSchema, ResourceEventSchema } from "@atoll/contracts";
import { describe, expect, it } from "vitest";
import { batchToOps, InvalidObjectError, invalidBatchReason, parseObjects } from "./ops.js";

const object = (uid: string) => new TextEncoder().encode(JSON.stringify({ metadata: { uid, name: uid } }));
const event = (type: EventType, extra: Record<string, unknown> = {}) =>
  create(ResourceEventSchema, {
    type,
    group: "apps",
    version: "v1",
    kind: "Deployment",
    resource: "deployments",
    syncId: "s1",
    ...extra,
  });
const batch = (events: ReturnType<typeof event>[], cluster = "prod-1") =>
  create(ResourceEventBatchSchema, { cluster, events });

describe("batchToOps", () => {
  it("maps object events, deletions and SYNC_END in order; drops SYNC_BEGIN and bookmarks", () => {
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
          syncId: "s1",
          objectJson: '{"metadata":{"uid":"u1","name":"u1"}}',
        },
      },
      { op: "delete", cluster: "prod-1", uid: "u0", resourceVersion: 9n },
      { op: "sweep", cluster: "prod-1", apiGroup: "apps", resource: "deployments", syncId: "s1" },
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
  ])("%s", (_name, input, expected) => {
    const reason = invalidBatchReason(input, subject);
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
  ])("refuses %s", (_, text) => {
    expect(() => parseObjects(upsert(text))).toThrow(InvalidObjectError);
  });

  it("hands the index NUL characters as U+FFFD, which jsonb can hold", () => {
    const [op] = upsert(JSON.stringify({ data: { k: "a\u0000b" } }));
    expect(op?.op === "upsert" && op.row.objectJson).toBe('{"data":{"k":"a\\ufffdb"}}');
  });
});
