import { describe, expect, it } from "vitest";
import { cpuMillis, parseQuantity } from "./quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["2", 2],
    ["100m", 0.1],
    ["128Mi", 128 * 1024 ** 2],
    ["1Gi", 1024 ** 3],
    ["1G", 1e9],
    ["1.5", 1.5],
    ["1e3", 1000],
    ["110", 110],
  ])("%s = %d", (input, expected) => {
    expect(parseQuantity(input)).toBeCloseTo(expected);
  });

  it.each(["", "12Q", "abc"])("rejects %j", (input) => {
    expect(() => parseQuantity(input)).toThrow(/quantity/);
  });

  it("rounds CPU up to whole millicores", () => {
    expect(cpuMillis("250m")).toBe(250);
    expect(cpuMillis("0.0001")).toBe(1);
    expect(cpuMillis(undefined)).toBe(0);
  });
});
