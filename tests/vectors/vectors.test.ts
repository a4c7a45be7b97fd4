import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KARMADA } from "./karmada.js";
import { polarisHandler } from "./polaris.js";
import { groupOf, runVectors } from "./runner.js";

const load = (name: string) => JSON.parse(readFileSync(new URL(`./peer/${name}`, import.meta.url), "utf8"));

describe("peer test vectors through the vector runner", () => {
  it("passes every Karmada placement vector", () => {
    const vectors = load("karmada-placement.json");
    expect(vectors.length).toBe(217);
    const result = runVectors(vectors, (v) => KARMADA[groupOf(String(v.id))]);
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(217);
  });

  it("agrees with every Polaris audit fixture", () => {
    const vectors = load("polaris-audit.json");
    expect(vectors.length).toBe(302);
    const result = runVectors(vectors, () => polarisHandler);
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(302);
  });

  it("tells a failing fixture from a passing one", () => {
    const flipped = load("polaris-audit.json").map((v: { verdict: string }) => ({
      ...v,
      verdict: v.verdict === "failure" ? "success" : "failure",
    }));
    expect(runVectors(flipped, () => polarisHandler).passed).toBe(0);
  });

  it("fails a vector whose group it does not know, and one whose answer is wrong", () => {
    const [first] = load("karmada-placement.json");
    const wrong = { ...first, expected: { assignment: { member1: 99 } } };
    const result = runVectors(
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
