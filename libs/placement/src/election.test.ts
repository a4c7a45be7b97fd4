import { describe, expect, it } from "vitest";
import { type ClaimingPolicy, holderAfterPreemption, preempts, type ResourceSelector } from "./election.js";

const template = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "shop" } };
const byName: ResourceSelector[] = [{ apiVersion: "apps/v1", kind: "Deployment", name: "web" }];
const byKind: ResourceSelector[] = [{ apiVersion: "apps/v1", kind: "Deployment" }];

const policy = (
  name: string,
  clusterWide: boolean,
  priority: number,
  preemption: "Always" | "Never" = "Always",
  resourceSelectors = byName,
): ClaimingPolicy => ({ name, clusterWide, priority, preemption, resourceSelectors });

describe("preemption (Karmada's rule: high-priority PP > low-priority PP > CPP)", () => {
  it.each([
    // challenger, holder, preempts
    ["PP beats any CPP, whatever the priorities", policy("pp", false, 0), policy("cpp", true, 100), true],
    ["PP beats a lower-priority PP", policy("pp", false, 5), policy("old", false, 4), true],
    ["PP does not beat an equal-priority PP", policy("pp", false, 5), policy("old", false, 5), false],
    ["PP does not beat a higher-priority PP", policy("pp", false, 5), policy("old", false, 6), false],
    ["CPP beats a lower-priority CPP", policy("cpp", true, 2), policy("old", true, 1), true],
    ["CPP does not beat an equal-priority CPP", policy("cpp", true, 1), policy("old", true, 1), false],
    ["CPP never beats a PP", policy("cpp", true, 100), policy("pp", false, 0), false],
    ["preemption Never does nothing", policy("pp", false, 9, "Never"), policy("cpp", true, 0), false],
    [
      "a challenger must name the template",
      policy("pp", false, 9, "Always", byKind),
      policy("cpp", true, 0),
      false,
    ],
    [
      "naming another object is not enough",
      policy("pp", false, 9, "Always", [{ apiVersion: "apps/v1", kind: "Deployment", name: "api" }]),
      policy("cpp", true, 0),
      false,
    ],
  ] as const)("%s", (_case, challenger, holder, expected) => {
    expect(preempts(template, challenger, holder)).toBe(expected);
  });

  it("hands the template to the strongest challenger, or leaves it with its holder", () => {
    const holder = policy("cpp", true, 0);
    const challengers = [
      policy("cpp-hi", true, 3),
      policy("pp-low", false, 1),
      policy("pp-hi", false, 2),
      holder,
    ];
    expect(holderAfterPreemption(template, holder, challengers).name).toBe("pp-hi");
    expect(holderAfterPreemption(template, holder, [policy("pp", false, 9, "Never")]).name).toBe("cpp");
  });
});
