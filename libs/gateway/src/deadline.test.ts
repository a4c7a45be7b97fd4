import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { deadline, firedByTimeout } from "./bus-transport.js";

v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;

describe("deadline", () => {
  it("still fires inside AbortSignal.any after a garbage collection", async () => {
    const combined = AbortSignal.any([new AbortController().signal, deadline(100).signal]);
    // Collected once the creating turn is over, as a busy server would.
    await new Promise((resolve) => setTimeout(resolve, 10));
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(combined.aborted).toBe(true);
    expect(firedByTimeout(combined)).toBe(true);
  });

  it("does not fire once cleared", async () => {
    const limit = deadline(30);
    limit.clear();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(limit.signal.aborted).toBe(false);
  });
});
