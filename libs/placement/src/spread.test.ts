import { describe, expect, it } from "vitest";
import { best } from "./spread.js";

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
