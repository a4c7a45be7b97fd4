import { describe, expect, it } from "vitest";
import { objectWords, wordsOf } from "./words.js";

describe("words for free-text search", () => {
  it.each([
    ["web-17", ["web", "17"]],
    ["registry.example/shop/web:1.4.2", ["registry", "example", "shop", "web", "1", "4", "2"]],
    ["MAX_CONNECTIONS=100", ["max", "connections", "100"]],
    ["支付 Сервис", ["支付", "сервис"]],
    ["  --  ", []],
  ])("%j", (text, expected) => {
    expect(wordsOf(text)).toEqual(expected);
  });

  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web-1", uid: "3f2a9c1e", creationTimestamp: "2026-01-02T03:04:05Z" },
    spec: {
      nodeName: "node-7",
      containers: [
        { name: "main", image: "ghcr.io/acme/checkout:2.0", env: [{ name: "MODE", value: "Blue" }] },
      ],
    },
    status: {
      phase: "Running",
      startTime: "2026-01-02T03:04:09Z",
      containerStatuses: [
        { restartCount: 3, ready: false, state: { waiting: { reason: "CrashLoopBackOff" } } },
      ],
    },
  };

  it("takes the object's string values once each, not its keys, metadata or timestamps", () => {
    const words = objectWords(pod);
    expect(words).toEqual(
      expect.arrayContaining([
        "ghcr",
        "acme",
        "checkout",
        "node",
        "7",
        "blue",
        "running",
        "crashloopbackoff",
      ]),
    );
    expect(new Set(words).size).toBe(words.length);
    for (const absent of ["image", "containers", "3f2a9c1e", "web", "2026", "09"])
      expect(words).not.toContain(absent);
  });

  it("leaves out blobs and stops at a bound, so a huge ConfigMap stays indexable", () => {
    const data = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, `word${i}`]));
    const words = objectWords({ kind: "ConfigMap", data: { ...data, cert: "A".repeat(4096) } });
    expect(words.length).toBe(5_000);
    expect(words.every((w) => w.length <= 100)).toBe(true);
  });
});
