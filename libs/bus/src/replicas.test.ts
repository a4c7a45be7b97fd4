import { until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { describe, expect, it } from "vitest";
import type { Bus } from "./bus.js";
import {
  type BehindSince,
  nextPassInMs,
  type ReplicaSighting,
  ReplicaWatch,
  stuckConsumers,
} from "./replicas.js";

const copy = (overrides: Partial<ReplicaSighting> = {}): ReplicaSighting => ({
  stream: "WORK",
  consumer: "work-a",
  peer: "n3",
  current: false,
  offline: false,
  lag: 34,
  lastSeenMs: 400,
  ...overrides,
});

/** Runs rounds of sightings at the given times through one memory of copies behind. */
function rounds(stuckAfterMs: number, ...seen: [number, ReplicaSighting[]][]) {
  const behind = new Map<string, BehindSince>();
  return seen.map(([now, sightings]) =>
    stuckConsumers(behind, sightings, now, { stuckAfterMs, inContactMs: 3_000 }).map(
      (s) => `${s.stream} > ${s.consumer}`,
    ),
  );
}

describe("stuckConsumers", () => {
  it.each([
    {
      name: "a copy behind as long as the limit without lagging less is stuck",
      seen: [
        [0, [copy()]],
        [9_999, [copy()]],
        [10_000, [copy()]],
      ],
      stuck: [[], [], ["WORK > work-a"]],
    },
    {
      name: "a copy lagging more is no less stuck",
      seen: [
        [0, [copy({ lag: 3 })]],
        [10_000, [copy({ lag: 40 })]],
      ],
      stuck: [[], ["WORK > work-a"]],
    },
    {
      name: "a copy lagging less than ever is catching up, and its clock starts again",
      seen: [
        [0, [copy({ lag: 40 })]],
        [6_000, [copy({ lag: 39 })]],
        [12_000, [copy({ lag: 39 })]],
        [16_000, [copy({ lag: 39 })]],
      ],
      stuck: [[], [], [], ["WORK > work-a"]],
    },
    {
      name: "a copy that was current in between starts again",
      seen: [
        [0, [copy()]],
        [5_000, [copy({ current: true, lag: 0 })]],
        [10_000, [copy()]],
        [19_999, [copy()]],
      ],
      stuck: [[], [], [], []],
    },
    {
      name: "an offline copy's server is down, which no step-down mends",
      seen: [
        [0, [copy({ offline: true })]],
        [60_000, [copy({ offline: true })]],
      ],
      stuck: [[], []],
    },
    {
      name: "a copy its leader has not heard from for a while is on a server that is down",
      seen: [
        [0, [copy({ lastSeenMs: 3_001 })]],
        [60_000, [copy({ lastSeenMs: 63_001 })]],
      ],
      stuck: [[], []],
    },
    {
      name: "a copy back in contact starts its clock then",
      seen: [
        [0, [copy({ lastSeenMs: 20_000 })]],
        [10_000, [copy({ lastSeenMs: 100 })]],
        [19_999, [copy({ lastSeenMs: 100 })]],
        [20_000, [copy({ lastSeenMs: 100 })]],
      ],
      stuck: [[], [], [], ["WORK > work-a"]],
    },
    {
      name: "a consumer found stuck is named again only after another limit",
      seen: [
        [0, [copy()]],
        [10_000, [copy()]],
        [15_000, [copy()]],
        [20_000, [copy()]],
      ],
      stuck: [[], ["WORK > work-a"], [], ["WORK > work-a"]],
    },
    {
      name: "a consumer with two stuck copies is named once",
      seen: [
        [0, [copy(), copy({ peer: "n2" })]],
        [10_000, [copy(), copy({ peer: "n2" })]],
      ],
      stuck: [[], ["WORK > work-a"]],
    },
    {
      name: "copies of different consumers, or of one name on different streams, are kept apart",
      seen: [
        [0, [copy()]],
        [5_000, [copy(), copy({ consumer: "work-b" }), copy({ stream: "RESOURCES" })]],
        [10_000, [copy(), copy({ consumer: "work-b" }), copy({ stream: "RESOURCES" })]],
        [15_000, [copy(), copy({ consumer: "work-b" }), copy({ stream: "RESOURCES" })]],
      ],
      stuck: [[], [], ["WORK > work-a"], ["WORK > work-b", "RESOURCES > work-a"]],
    },
  ] as { name: string; seen: [number, ReplicaSighting[]][]; stuck: string[][] }[])(
    "$name",
    ({ seen, stuck }) => {
      expect(rounds(10_000, ...seen)).toEqual(stuck);
    },
  );

  it("forgets a copy no longer seen, so a consumer made again under the same name starts afresh", () => {
    const limits = { stuckAfterMs: 10_000, inContactMs: 3_000 };
    const behind = new Map<string, BehindSince>();
    stuckConsumers(behind, [copy()], 0, limits);
    expect(behind.size).toBe(1);
    stuckConsumers(behind, [], 5_000, limits);
    expect(behind.size).toBe(0);
    expect(stuckConsumers(behind, [copy()], 10_000, limits)).toEqual([]);
  });
});

describe("nextPassInMs", () => {
  it.each([
    { lastPassMs: 40, next: 5_000 },
    { lastPassMs: 500, next: 5_000 },
    { lastPassMs: 501, next: 5_010 },
    { lastPassMs: 3_000, next: 30_000 },
  ])("after a look that took $lastPassMs ms, the next is due in $next ms", ({ lastPassMs, next }) => {
    expect(nextPassInMs(5_000, lastPassMs)).toBe(next);
  });
});

describe("ReplicaWatch.start", () => {
  it("looks again and again until stopped, and not once after", async () => {
    let lists = 0;
    const bus = {
      names: { streams: { work: "WORK" } },
      jsm: {
        consumers: {
          list: () => {
            lists++;
            return (async function* () {})();
          },
        },
      },
    } as unknown as Bus;
    const watch = new ReplicaWatch(bus, { stuckAfterMs: 1_000, intervalMs: 5, logger: silentLogger() });
    watch.start();
    await until(() => lists >= 3, "three looks", 5_000, 5);
    await watch.stop();
    const looked = lists;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lists).toBe(looked);
  });
});
