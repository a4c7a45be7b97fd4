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

  it("reads every millicore exactly, whatever floating point makes of the fraction", () => {
    // 0.009 * 1000 is 9.000000000000002 in floating point, which rounded up to 10 millicores.
    const wrong = Array.from({ length: 5_999 }, (_, i) => i + 1).filter((m) => cpuMillis(`${m}m`) !== m);
    expect(wrong).toEqual([]);
    expect(Array.from({ length: 999 }, (_, i) => i + 1).filter((m) => cpuMillis(m / 1000) !== m)).toEqual([]);
  });

  it.each([
    ["1.5", 1500],
    ["0.009", 9],
    ["1e3m", 1000],
    ["2e-3", 2],
    ["1k", 1_000_000],
    ["1Ki", 1_024_000],
    ["500u", 1],
    [2, 2000],
  ] as const)("%s is %d millicores", (input, millis) => {
    expect(cpuMillis(input)).toBe(millis);
  });
});
