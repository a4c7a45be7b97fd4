import type { ReflectorEvent } from "@atoll/kube";
import { describe, expect, it } from "vitest";
import { CapacityTracker } from "./capacity.js";

type Seen = [kind: "Node" | "Pod", event: ReflectorEvent];

const node = (uid: string, ready: boolean, cpu = "4", memory = "8Gi", pods = "110"): Seen => [
  "Node",
  {
    type: "ADDED",
    object: {
      metadata: { uid, name: uid },
      status: {
        allocatable: { cpu, memory, pods },
        conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      },
    },
  } as never,
];
const pod = (uid: string, nodeName: string | undefined, cpu: string, phase = "Running"): Seen => [
  "Pod",
  {
    type: "MODIFIED",
    object: {
      metadata: { uid, name: uid },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ resources: { requests: { cpu } } }] },
      status: { phase },
    },
  } as never,
];
const deleted = (kind: "Node" | "Pod", uid: string): Seen => [kind, { type: "DELETED", uid } as never];

describe("what a cluster's heartbeat says it can hold", () => {
  it.each([
    ["ready nodes only count", [node("a", true), node("b", false)], { total: 2, ready: 1 }, 4000, 0, 0],
    [
      "a bound pod is allocated, a pending one allocating",
      [node("a", true), pod("p", "a", "1"), pod("q", undefined, "500m")],
      { total: 1, ready: 1 },
      4000,
      1000,
      500,
    ],
    [
      "finished pods hold nothing",
      [node("a", true), pod("p", "a", "1", "Succeeded"), pod("q", "a", "1", "Failed")],
      { total: 1, ready: 1 },
      4000,
      0,
      0,
    ],
    [
      "a pod that finishes gives its share back",
      [node("a", true), pod("p", "a", "1"), pod("p", "a", "1", "Succeeded")],
      { total: 1, ready: 1 },
      4000,
      0,
      0,
    ],
    [
      "deleted nodes and pods are forgotten",
      [node("a", true), pod("p", "a", "1"), deleted("Node", "a"), deleted("Pod", "p")],
      { total: 0, ready: 0 },
      0,
      0,
      0,
    ],
  ])("%s", (_, events, nodes, allocatable, allocated, allocating) => {
    const tracker = new CapacityTracker();
    for (const [kind, event] of events as Seen[]) tracker.observe(kind, event);
    const summary = tracker.summary();
    expect(summary.nodes).toEqual(nodes);
    expect([
      summary.allocatable.cpuMillis,
      summary.allocated.cpuMillis,
      summary.allocating.cpuMillis,
    ]).toEqual([allocatable, allocated, allocating]);
  });

  it("sums pods that share what they ask for, through churn of thousands that each ask differently", () => {
    const tracker = new CapacityTracker();
    let expected = 0;
    // Replicas alike: one usage shared by many pods, each still counted.
    for (let i = 0; i < 500; i++) tracker.observe(...pod(`same-${i}`, "a", "250m"));
    expected += 500 * 250;
    // Pods that each ask a little differently come and go, as under a vertical autoscaler.
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 1_500; i++) {
        const uid = `varied-${i}`;
        tracker.observe(...pod(uid, "a", `${1 + round * 1_500 + i}m`));
      }
    for (let i = 0; i < 1_500; i++) expected += 1 + 2 * 1_500 + i;
    // Half of them finish.
    for (let i = 0; i < 1_500; i += 2) {
      tracker.observe(...deleted("Pod", `varied-${i}`));
      expected -= 1 + 2 * 1_500 + i;
    }
    expect(tracker.summary().allocated.cpuMillis).toBe(expected);
    expect(tracker.summary().allocated.pods).toBe(500 + 750);
  });
});
