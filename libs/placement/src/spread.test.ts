import { describe, expect, it } from "vitest";
import { best, orderCandidates, reorderCandidates } from "./spread.js";
import type { Candidate } from "./types.js";

/** A seeded sequence, so a failure can be run again. */
function numbers(seed: number, count: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % 50;
  });
}

describe("best: the first few in order, without sorting them all", () => {
  const items = (seed: number, count: number) =>
    numbers(seed, count).map((score, i) => ({ score, name: `c-${String(i).padStart(4, "0")}` }));
  // Ties in score are broken by name, as the spread's order breaks them: a total order.
  const order = (a: { score: number; name: string }, b: { score: number; name: string }) =>
    b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

  it.each([
    [0, 0],
    [10, 1],
    [10, 3],
    [10, 10],
    [10, 15],
    [900, 1],
    [900, 6],
    [900, 32],
    [900, 33],
    [900, 900],
  ])("of %i items, takes %i as a sort would", (size, count) => {
    for (const seed of [1, 2, 3]) {
      const list = items(seed, size);
      const before = [...list];
      expect(best(list, count, order)).toEqual([...list].sort(order).slice(0, count));
      expect(list).toEqual(before);
    }
  });
});

describe("reorderCandidates: a shared order mended where candidates changed", () => {
  const candidate = (i: number, free: number): Candidate => ({
    name: `c-${String(i).padStart(4, "0")}`,
    score: 0,
    availableReplicas: free,
    allocatableReplicas: free,
    overflowOrder: i % 3 === 0 ? 1 : 0,
  });

  it.each([
    [1, 50, 1],
    [2, 300, 4],
    [3, 900, 32],
    [4, 900, 0],
  ])("seed %i: %i candidates, %i replaced, in the order a full sort gives", (seed, count, changes) => {
    const list = numbers(seed, count).map((free, i) => candidate(i, free));
    const ordered = orderCandidates(list);
    // Distinct clusters, each given a new count of free replicas (often its old one).
    const positions = [
      ...new Set(numbers(seed + 100, changes * 3).map((n, k) => (n * 37 + k * 101) % count)),
    ];
    const replaced = positions.slice(0, changes).map((at, k): [Candidate, Candidate] => {
      const made = candidate(at, numbers(seed + k, 1)[0]!);
      const old = list[at]!;
      list[at] = made;
      return [old, made];
    });
    reorderCandidates(ordered, replaced);
    expect(ordered).toEqual(orderCandidates(list));
    expect(ordered.filter((c) => list.includes(c))).toHaveLength(count);
  });
});
