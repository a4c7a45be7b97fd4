import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { clusterpediaReplay } from "./clusterpedia.js";
import { KARMADA } from "./karmada.js";
import { polarisHandler } from "./polaris.js";
import { groupOf, runVectors } from "./runner.js";

const load = (name: string) => JSON.parse(readFileSync(new URL(`./peer/${name}`, import.meta.url), "utf8"));

describe("peer test vectors through the vector runner", () => {
  it("replays every Clusterpedia list-option vector against Postgres", async () => {
    const vectors = load("clusterpedia-query.json");
    expect(vectors.length).toBe(91);
    const replay = await clusterpediaReplay();
    try {
      const result = await runVectors(vectors, (v) => replay.handlers[groupOf(String(v.id))]);
      expect(result.failures).toEqual([]);
      expect(result.passed).toBe(91);
      // The replay compares rows, so a vector whose answer is wrong fails it.
      const [label] = vectors.filter((v: { id: string }) => v.id === "label-equal");
      const wrong = {
        ...label,
        expected: { postgres: `SELECT * FROM "resources" WHERE cluster = 'cluster-2'` },
      };
      expect(
        (await runVectors([wrong], (v) => replay.handlers[groupOf(String(v.id))])).failures,
      ).toHaveLength(1);
    } finally {
      await replay.close();
    }
  });

  it("passes every Karmada placement vector", async () => {
    const vectors = load("karmada-placement.json");
    expect(vectors.length).toBe(217);
    const result = await runVectors(vectors, (v) => KARMADA[groupOf(String(v.id))]);
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(217);
  });

  it("agrees with every Polaris audit fixture", async () => {
    const vectors = load("polaris-audit.json");
    expect(vectors.length).toBe(302);
    const result = await runVectors(vectors, () => polarisHandler);
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(302);
  });

  it("tells a failing fixture from a passing one", async () => {
    const flipped = load("polaris-audit.json").map((v: { verdict: string }) => ({
      ...v,
      verdict: v.verdict === "failure" ? "success" : "failure",
    }));
    expect((await runVectors(flipped, () => polarisHandler)).passed).toBe(0);
  });

  it("fails a vector whose group it does not know, and one whose answer is wrong", async () => {
    const [first] = load("karmada-placement.json");
    const wrong = { ...first, expected: { assignment: { member1: 99 } } };
    const result = await runVectors(
      [{ id: "no-such-group-01", input: {}, expected: {} }, wrong],
      (v) => KARMADA[groupOf(String(v.id))],
    );
    expect(result.passed).toBe(0);
    expect(result.failures).toEqual([
      'no-such-group-01: no handler for group "no-such-group"',
      expect.stringMatching(/^static-01: expected .*"member1":99/),
    ]);
  });
});
