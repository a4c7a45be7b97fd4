import { describe, expect, it } from "vitest";
import {
  can,
  canProxy,
  clustersAllowed,
  grantsBeyond,
  NOTHING,
  type Principal,
  parseGrants,
  reachesCluster,
  seesWholeCluster,
  visibleClusters,
  visibleRows,
} from "./grants.js";
import { mintToken, parseToken, secretMatches } from "./tokens.js";

const principal = (grants: unknown): Principal => ({ name: "t", role: "r", grants: parseGrants(grants) });

describe("grants", () => {
  it("defaults scopes to everything and normalises kinds", () => {
    expect(parseGrants([{ verbs: ["read"], kinds: ["pods", "deploy"] }])).toEqual([
      { verbs: ["read"], clusters: ["*"], namespaces: ["*"], kinds: ["Pod", "Deployment"] },
    ]);
  });

  it.each([
    [[], /invalid grants/],
    [[{ verbs: ["fly"] }], /verbs\.0/],
    [[{ verbs: ["read"], clusters: [] }], /clusters/],
    [
      [{ verbs: ["proxy-read"], kinds: ["pods"] }],
      /0\.kinds: proxy-read and proxy-write reach whole namespaces/,
    ],
  ])("rejects %j with a clear error", (input, message) => {
    expect(() => parseGrants(input)).toThrow(message);
  });

  it.each([
    // verb, cluster, namespace ("" = cluster scope or all namespaces), allowed
    ["proxy-read", "a", "team", true],
    ["proxy-read", "a", "", false],
    ["proxy-read", "a", "other", false],
    ["proxy-write", "a", "team", false],
    ["proxy-read", "b", "", true],
    ["proxy-write", "b", "x", true],
    ["proxy-read", "c", "team", false],
  ] as const)("gateway %s on %s/%s is %s", (verb, cluster, namespace, allowed) => {
    const caller = principal([
      { verbs: ["proxy-read"], clusters: ["a"], namespaces: ["team"] },
      { verbs: ["proxy-write"], clusters: ["b"] },
      { verbs: ["read"], clusters: ["c"] },
    ]);
    expect(canProxy(caller, verb, cluster, namespace)).toBe(allowed);
    expect(reachesCluster(caller, cluster)).toBe(cluster !== "c");
  });

  it("answers can() per verb and scope", () => {
    const p = principal([{ verbs: ["read"], clusters: ["eu"], namespaces: ["shop"] }, { verbs: ["admin"] }]);
    expect(can(p, "read", { cluster: "eu", namespace: "shop", kind: "Pod" })).toBe(true);
    expect(can(p, "read", { cluster: "us", namespace: "shop" })).toBe(false);
    expect(can(p, "admin")).toBe(true);
    expect(can(p, "write")).toBe(false);
  });

  it("turns grants into the row condition every query is ANDed with", () => {
    expect(visibleRows(principal([{ verbs: ["*"] }]))).toBeUndefined();
    expect(visibleRows(principal([{ verbs: ["admin"] }]))).toBe(NOTHING);
    expect(visibleRows(principal([{ verbs: ["read"], clusters: ["eu"], kinds: ["Pod"] }]))).toEqual({
      type: "and",
      of: [
        { type: "in", field: { kind: "column", name: "cluster" }, values: ["eu"], negated: false },
        { type: "in", field: { kind: "column", name: "kind" }, values: ["Pod"], negated: false },
      ],
    });
    const two = visibleRows(
      principal([
        { verbs: ["read"], clusters: ["eu"] },
        { verbs: ["read"], namespaces: ["a"] },
      ]),
    );
    expect(two).toMatchObject({ type: "or" });
  });

  it("knows which clusters a caller sees whole", () => {
    const p = principal([
      { verbs: ["read"], clusters: ["eu"] },
      { verbs: ["read"], clusters: ["us"], namespaces: ["a"] },
    ]);
    expect(visibleClusters(p)).toEqual(["eu", "us"]);
    expect(seesWholeCluster(p, "eu")).toBe(true);
    expect(seesWholeCluster(p, "us")).toBe(false);
  });
});

describe("clustersAllowed", () => {
  const payments = principal([{ verbs: ["read", "write"], clusters: ["sim-1"], namespaces: ["payments"] }]);
  const union = principal([
    { verbs: ["write"], clusters: ["b", "a"], namespaces: ["web"], kinds: ["ConfigMap"] },
    { verbs: ["*"], clusters: ["c"], namespaces: ["*"] },
    { verbs: ["read"], clusters: ["*"] },
  ]);
  it.each([
    ["a namespace writer, in its namespace", payments, "payments", "ConfigMap", ["sim-1"]],
    ["a namespace writer, in another namespace", payments, "kube-system", "ConfigMap", []],
    ["a namespace writer, at cluster scope", payments, "", "ClusterRoleBinding", []],
    ["a namespace writer, for a cluster-wide policy", payments, "", "ClusterPropagationPolicy", []],
    ["kind-limited grants add up per cluster", union, "web", "ConfigMap", ["a", "b", "c"]],
    ["a kind outside the kind-limited grant", union, "web", "Secret", ["c"]],
    ["only the all-namespace grant covers cluster scope", union, "", "Namespace", ["c"]],
    ["read grants never write", principal([{ verbs: ["read"] }]), "web", "ConfigMap", []],
    ["a wildcard cluster is every cluster", principal([{ verbs: ["write"] }]), "", "Namespace", ["*"]],
  ])("%s", (_name, who, namespace, kind, expected) => {
    expect(clustersAllowed(who, "write", { namespace, kind })).toEqual(expected);
  });
});

describe("grantsBeyond", () => {
  const grants = (input: unknown) => parseGrants(input);
  const sim1Admin = grants([{ verbs: ["admin", "read"], clusters: ["sim-1"] }]);
  it.each([
    ["the same grants", sim1Admin, sim1Admin, []],
    [
      "a narrower scope",
      sim1Admin,
      grants([{ verbs: ["read"], clusters: ["sim-1"], namespaces: ["web"] }]),
      [],
    ],
    ["another cluster", sim1Admin, grants([{ verbs: ["read"], clusters: ["sim-2"] }]), ["read on sim-2/*/*"]],
    ["every cluster", sim1Admin, grants([{ verbs: ["read"] }]), ["read on */*/*"]],
    [
      "a verb not held",
      sim1Admin,
      grants([{ verbs: ["write"], clusters: ["sim-1"] }]),
      ["write on sim-1/*/*"],
    ],
    [
      "the * verb expands to every verb",
      grants([{ verbs: ["read", "write"] }]),
      grants([{ verbs: ["*"], clusters: ["a"], namespaces: ["n"], kinds: ["Pod"] }]),
      ["admin on a/n/Pod", "proxy-read on a/n/Pod", "proxy-write on a/n/Pod"],
    ],
    [
      "grants held in pieces cover a union",
      grants([
        { verbs: ["read"], clusters: ["a"] },
        { verbs: ["read"], clusters: ["b"], namespaces: ["x"] },
      ]),
      grants([{ verbs: ["read"], clusters: ["a", "b"], namespaces: ["x"] }]),
      [],
    ],
    ["everything covers everything", grants([{ verbs: ["*"] }]), grants([{ verbs: ["*"] }]), []],
  ])("%s", (_name, held, wanted, missing) => {
    expect(grantsBeyond(held, wanted)).toEqual(missing);
  });
});

describe("tokens", () => {
  it("mints tokens whose secret only matches its own hash", () => {
    const a = mintToken();
    const b = mintToken();
    const parsed = parseToken(a.token)!;
    expect(parsed.id).toBe(a.id);
    expect(secretMatches(parsed.secret, a.secretHash)).toBe(true);
    expect(secretMatches(parsed.secret, b.secretHash)).toBe(false);
    expect(a.secretHash).not.toContain(a.secret);
    expect(parseToken("atoll_xyz_short")).toBeUndefined();
  });
});
