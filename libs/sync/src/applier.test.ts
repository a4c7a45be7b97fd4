import { describe, expect, it } from "vitest";
import { isHealthy } from "./applier.js";

describe("whether a placed object is up", () => {
  it.each([
    [
      "a deployment with every replica ready",
      { kind: "Deployment", spec: { replicas: 3 }, status: { readyReplicas: 3 } },
      true,
    ],
    [
      "a deployment short of ready replicas",
      { kind: "Deployment", spec: { replicas: 3 }, status: { readyReplicas: 2 } },
      false,
    ],
    ["a deployment that reports nothing yet", { kind: "Deployment", spec: { replicas: 1 } }, false],
    ["a deployment of no replicas", { kind: "Deployment", spec: { replicas: 0 }, status: {} }, true],
    [
      "a deployment whose replicas default to one",
      { kind: "Deployment", spec: {}, status: { readyReplicas: 1 } },
      true,
    ],
    [
      "a stateful set with every replica ready",
      { kind: "StatefulSet", spec: { replicas: 2 }, status: { readyReplicas: 2 } },
      true,
    ],
    [
      "a daemon set ready on every node",
      { kind: "DaemonSet", status: { numberReady: 3, desiredNumberScheduled: 3 } },
      true,
    ],
    [
      "a daemon set missing a node",
      { kind: "DaemonSet", status: { numberReady: 2, desiredNumberScheduled: 3 } },
      false,
    ],
    ["a job that has not failed", { kind: "Job", status: { active: 1 } }, true],
    ["a failed job", { kind: "Job", status: { conditions: [{ type: "Failed", status: "True" }] } }, false],
    ["a config map, once applied", { kind: "ConfigMap" }, true],
  ])("%s", (_, object, healthy) => {
    expect(isHealthy(object)).toBe(healthy);
  });
});
