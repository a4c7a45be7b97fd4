import { describe, expect, it } from "vitest";
import { AssumedLoad } from "./assumed-load.js";

const request = { cpuMillis: 250, memoryBytes: 2 ** 28, pods: 1 };

describe("AssumedLoad", () => {
  it("totals each cluster's placements until they expire, oldest first", () => {
    const load = new AssumedLoad(1000);
    load.add("a", request, 2, 0);
    load.add("a", request, 3, 400);
    load.add("b", request, 1, 400);
    expect(load.of("a")).toEqual({ cpuMillis: 1250, memoryBytes: 5 * 2 ** 28, pods: 5 });
    load.expire(999);
    expect(load.of("a")?.pods).toBe(5);
    // The assumption lasts up to, not past, its end.
    load.expire(1000);
    expect(load.of("a")).toEqual({ cpuMillis: 750, memoryBytes: 3 * 2 ** 28, pods: 3 });
    expect(load.of("b")?.pods).toBe(1);
    load.expire(1400);
    expect(load.of("a")).toBeUndefined();
    expect(load.of("b")).toBeUndefined();
  });

  it("keeps exact totals over many placements that come and go", () => {
    const load = new AssumedLoad(50);
    let expected = 0;
    const live: { until: number; replicas: number }[] = [];
    for (let now = 0; now < 2000; now++) {
      const replicas = 1 + (now % 7);
      load.add("a", request, replicas, now);
      live.push({ until: now + 50, replicas });
      expected += replicas;
      if (now % 13 === 0) {
        load.expire(now);
        while (live.length && live[0]!.until <= now) expected -= live.shift()!.replicas;
        expect(load.of("a")?.pods).toBe(expected);
        expect(load.of("a")?.cpuMillis).toBe(expected * request.cpuMillis);
      }
    }
  });
});
