import { describe, expect, it } from "vitest";
import { podRequests } from "./quantity.js";

const container = (cpu?: string, memory?: string) => ({
  resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
});

describe("a pod's requests, as the scheduler counts them", () => {
  it.each([
    ["nothing asked", {}, { cpuMillis: 0, memoryBytes: 0, pods: 1 }],
    [
      "containers add up",
      { containers: [container("100m", "64Mi"), container("250m", "1Gi")] },
      { cpuMillis: 350, memoryBytes: 1140850688, pods: 1 },
    ],
    [
      "CPU rounds up to a millicore",
      { containers: [container("0.0001")] },
      { cpuMillis: 1, memoryBytes: 0, pods: 1 },
    ],
    [
      "an init container larger than the rest counts alone",
      { containers: [container("100m", "64Mi")], initContainers: [container("2", "32Mi")] },
      { cpuMillis: 2000, memoryBytes: 67108864, pods: 1 },
    ],
    [
      "init containers run one at a time: the largest, not their sum",
      { containers: [container("100m")], initContainers: [container("300m"), container("500m")] },
      { cpuMillis: 500, memoryBytes: 0, pods: 1 },
    ],
    [
      "the runtime's overhead comes on top",
      { containers: [container("100m", "64Mi")], overhead: { cpu: "50m", memory: "16Mi" } },
      { cpuMillis: 150, memoryBytes: 83886080, pods: 1 },
    ],
  ])("%s", (_, spec, expected) => {
    expect(podRequests(spec)).toEqual(expected);
  });
});
