import { beforeAll, describe, expect, it } from "vitest";
import { exampleRow as row } from "./example-row.js";
import { applyIndexOps } from "./resources.js";
import { suiteDatabase } from "./testing.js";
import { fleetVocabulary } from "./vocabulary.js";

describe("the fleet's vocabulary", () => {
  const handle = suiteDatabase("vocabulary_test");

  beforeAll(async () => {
    const rows = [
      row("Namespace", "", "payments", {
        metadata: { name: "payments", labels: { "kubernetes.io/metadata.name": "payments" } },
      }),
      row("Node", "", "node-1", {
        metadata: { name: "node-1", labels: { "topology.kubernetes.io/zone": "zone-a" } },
      }),
      row("Pod", "payments", "api-1", {
        metadata: {
          name: "api-1",
          namespace: "payments",
          labels: { team: "growth", "pod-template-hash": "abc12" },
        },
        spec: { containers: [{ name: "main", image: "ghcr.io/x/api:1.0" }] },
        status: {
          phase: "Running",
          containerStatuses: [{ state: { waiting: { reason: "CrashLoopBackOff" } } }],
        },
      }),
      row("Deployment", "payments", "api", {
        spec: { template: { spec: { containers: [{ name: "main", image: "redis:7" }] } } },
      }),
    ];
    await applyIndexOps(
      handle.sql,
      rows.map((r) => ({ op: "upsert" as const, row: r })),
    );
  });

  it("holds namespaces, nodes, label values, images and reasons, each where it was seen", async () => {
    const words = (await fleetVocabulary(handle.sql)).map(
      (w) => `${w.sort} ${w.namespace}/${w.key}=${w.value}`,
    );
    expect(words).toEqual(
      expect.arrayContaining([
        "namespace payments/=payments",
        "node /=node-1",
        "label /topology.kubernetes.io/zone=zone-a",
        "label payments/team=growth",
        "image payments/=ghcr.io/x/api:1.0",
        "image payments/=redis:7",
        "reason payments/=crashloopbackoff",
      ]),
    );
    // Hashes and the name label every namespace carries are not words anyone asks with.
    expect(words.filter((w) => /hash|metadata\.name/.test(w))).toEqual([]);
  });
});
