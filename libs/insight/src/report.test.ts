import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AUDIT_RULES, type InsightConfig } from "./audit.js";
import { InsightConfigError, readInsightConfig } from "./config.js";
import { objectIssues } from "./diagnosis.js";
import {
  auditManifests,
  healthScore,
  ManifestError,
  readManifest,
  reportSarif,
  reportText,
} from "./report.js";

const deployment = (
  name: string,
  container: Record<string, unknown>,
  namespace = "shop",
) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  replicas: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - ${JSON.stringify({ name: "main", ...container })}
`;

const hardened = {
  image: "registry.example/shop/web:1.4.2",
  securityContext: { privileged: false },
};

describe("reading manifests", () => {
  it("gives every object with the line its document starts on, Lists unpacked", () => {
    const text = `# leading comment\n${deployment("a", hardened)}---\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: { name: one, namespace: shop }\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: { name: two, namespace: shop }\n`;
    const read = readManifest(text, "deploy.yaml");
    expect(read.map((m) => `${m.object.kind}/${m.object.metadata.name}@${m.line}`)).toEqual([
      "Deployment/a@2",
      `ConfigMap/one@${text.split("\n").findIndex((l) => l.startsWith("  - apiVersion")) + 1}`,
      `ConfigMap/two@${text.split("\n").findLastIndex((l) => l.startsWith("  - apiVersion")) + 1}`,
    ]);
  });

  it("reads JSON as well", () => {
    const read = readManifest(
      JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "s" } }),
      "s.json",
    );
    expect(read).toHaveLength(1);
    expect(read[0]!.object.kind).toBe("Service");
  });

  it("names the file and line of broken YAML, and of a document that is not an object", () => {
    expect(() => readManifest("kind: Pod\nmetadata: {name: [\n", "bad.yaml")).toThrow(ManifestError);
    expect(() => readManifest("kind: Pod\nmetadata: {name: [\n", "bad.yaml")).toThrow(/^bad\.yaml:\d+: /);
    expect(() => readManifest("apiVersion: v1\nkind: Pod\n---\n- 1\n- 2\n", "list.yaml")).toThrow(
      "list.yaml:4: not a Kubernetes object: it has no kind",
    );
  });
});

describe("auditing manifests", () => {
  it("reports failures most severe first, at the object's file and line, with the score of the set", () => {
    const manifests = [
      ...readManifest(
        deployment("risky", { image: "nginx", securityContext: { privileged: true } }),
        "a.yaml",
      ),
      ...readManifest(deployment("careful", hardened), "b.yaml"),
    ];
    const report = auditManifests(manifests);
    expect(report.objects).toBe(2);
    const rules = report.findings.map((f) => `${f.name}:${f.rule}`);
    expect(rules).toContain("risky:runAsPrivileged");
    expect(rules).toContain("risky:tagNotSpecified");
    expect(rules).not.toContain("careful:tagNotSpecified");
    const severities = report.findings.map(
      (f) => AUDIT_RULES.findIndex((r) => r.id === f.rule) >= 0 && f.severity,
    );
    const rank = ["info", "low", "medium", "high", "critical"];
    for (let i = 1; i < severities.length; i++)
      expect(rank.indexOf(severities[i - 1] as string)).toBeGreaterThanOrEqual(
        rank.indexOf(severities[i] as string),
      );
    const privileged = report.findings.find((f) => f.rule === "runAsPrivileged")!;
    expect(privileged).toMatchObject({ file: "a.yaml", line: 1, container: "main", severity: "critical" });
    expect(privileged.fix.length).toBeGreaterThan(5);
    // The set's score is the mean of its objects' scores.
    const perObject = (name: string) =>
      healthScore(report.findings.filter((f) => f.name === name).map((f) => f.severity));
    expect(report.score).toBeCloseTo((perObject("risky") + perObject("careful")) / 2, 6);
    expect(perObject("risky")).toBeLessThan(perObject("careful"));
    const total = Object.values(report.bySeverity).reduce((a, b) => a + b, 0);
    expect(total).toBe(report.findings.length);
    expect(reportText(report).split("\n").at(-1)).toBe(
      `2 objects, ${report.findings.length} findings (${["critical", "high", "medium", "low", "info"]
        .filter((s) => report.bySeverity[s as "low"] > 0)
        .map((s) => `${report.bySeverity[s as "low"]} ${s}`)
        .join(", ")}), score ${report.score.toFixed(1)}`,
    );
  });

  it("scores as the documented formula says", () => {
    expect(healthScore([])).toBe(100);
    expect(healthScore(["critical"])).toBeCloseTo(100 * Math.exp(-0.04 - 0.3), 9);
    expect(healthScore(["info", "high"])).toBeCloseTo(100 * Math.exp(-0.08 - 0.18), 9);
  });

  it("runs rules that read other objects within the set", () => {
    const withPdb = [
      ...readManifest(deployment("web", hardened), "web.yaml"),
      ...readManifest(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: { name: web, namespace: shop }\nspec:\n  minAvailable: 1\n  selector: { matchLabels: { app: web } }\n",
        "pdb.yaml",
      ),
    ];
    const alone = auditManifests(withPdb.slice(0, 1)).findings.map((f) => f.rule);
    const together = auditManifests(withPdb).findings.map((f) => f.rule);
    const pdbRule = alone.find((r) => !together.includes(r));
    expect(pdbRule, "a rule that a PodDisruptionBudget in the set satisfies").toBeDefined();
    expect(AUDIT_RULES.find((r) => r.id === pdbRule)!.crossObject).toBe(true);
  });

  it("writes SARIF 2.1.0 that points at each finding and describes each rule once", () => {
    const report = auditManifests(
      readManifest(
        deployment("risky", { image: "nginx", securityContext: { privileged: true } }),
        "deploy/a.yaml",
      ),
    );
    const sarif = reportSarif(report, { name: "atoll", version: "0.1.0" });
    expect(sarif.version).toBe("2.1.0");
    const run = sarif.runs[0];
    const ruleIds = run.tool.driver.rules.map((r: { id: string }) => r.id);
    expect(new Set(ruleIds).size).toBe(ruleIds.length);
    expect(run.results).toHaveLength(report.findings.length);
    for (const result of run.results) expect(ruleIds[result.ruleIndex]).toBe(result.ruleId);
    const privileged = run.results.find((r: { ruleId: string }) => r.ruleId === "runAsPrivileged");
    expect(privileged.level).toBe("error");
    expect(privileged.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: "deploy/a.yaml" },
      region: { startLine: 1 },
    });
    expect(privileged.locations[0].logicalLocations[0].fullyQualifiedName).toBe(
      "shop/Deployment/risky/container/main",
    );
    const rule = run.tool.driver.rules[ruleIds.indexOf("runAsPrivileged")];
    expect(rule.properties["security-severity"]).toBe("9.5");
  });
});

describe("custom rules from the configuration", () => {
  const config: InsightConfig = {
    customRules: {
      imageFromApprovedRegistry: {
        target: "Container",
        severity: "high",
        category: "Security",
        description: "Images come from the company registry",
        why: "Images from elsewhere skip the registry's scanning.",
        fix: "Push the image to registry.example and use it from there.",
        schema: {
          type: "object",
          properties: { image: { type: "string", pattern: "^registry\\.example/" } },
        },
      },
    },
  };

  it("run beside the built-in rules, in audits and in what the indexer records", () => {
    const manifests = [
      ...readManifest(deployment("outside", { ...hardened, image: "docker.io/nginx:1.27" }), "a.yaml"),
      ...readManifest(deployment("inside", hardened), "b.yaml"),
    ];
    const failing = auditManifests(manifests, config)
      .findings.filter((f) => f.rule === "imageFromApprovedRegistry")
      .map((f) => `${f.name}:${f.severity}:${f.description}`);
    expect(failing).toEqual(["outside:high:Images come from the company registry"]);
    const recorded = (name: string) =>
      objectIssues(manifests.find((m) => m.object.metadata.name === name)!.object, config);
    expect(recorded("outside").map((i) => i.rule)).toContain("imageFromApprovedRegistry");
    expect(recorded("inside").map((i) => i.rule)).not.toContain("imageFromApprovedRegistry");
    // Disabling and exempting work for custom rules as for built-in ones.
    expect(
      objectIssues(manifests[0]!.object, { ...config, disabled: ["imageFromApprovedRegistry"] }).map(
        (i) => i.rule,
      ),
    ).not.toContain("imageFromApprovedRegistry");
  });

  const dir = mkdtempSync(join(tmpdir(), "atoll-insight-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = (text: string) => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, text);
    return path;
  };

  it("are read from the configuration file, and may be disabled or re-ranked there", () => {
    const read = readInsightConfig(
      configFile(
        "customRules:\n  replicasAtLeastTwo:\n    target: Controller\n    schema: { properties: { spec: { properties: { replicas: { minimum: 2 } } } } }\nseverity: { replicasAtLeastTwo: low }\n",
      ),
    );
    const one = readManifest(deployment("single", hardened).replace("replicas: 2", "replicas: 1"), "x.yaml");
    const found = auditManifests(one, read).findings.find((f) => f.rule === "replicasAtLeastTwo");
    expect(found?.severity).toBe("low");
  });

  it("that are wrong stop the configuration with what to fix", () => {
    const problems = (text: string) => {
      try {
        readInsightConfig(configFile(text));
        return "";
      } catch (error) {
        expect(error).toBeInstanceOf(InsightConfigError);
        return (error as Error).message;
      }
    };
    expect(problems("customRules:\n  runAsPrivileged: { target: Container, schema: {} }\n")).toContain(
      '"runAsPrivileged" is a built-in rule',
    );
    expect(problems("customRules:\n  mine: { schema: {} }\n")).toContain(
      "customRules.mine.target is required",
    );
    expect(problems("customRules:\n  mine: { target: Pod }\n")).toContain(
      "customRules.mine.schema is required",
    );
    expect(problems("customRules:\n  mine: { target: Pod, schema: {}, severity: urgent }\n")).toContain(
      'customRules.mine.severity "urgent" is not one of',
    );
    expect(problems("customRules:\n  mine: { target: Pod, schema: { pattern: '(' } }\n")).toContain(
      "customRules.mine.schema.pattern",
    );
    expect(problems("customRules: [a]\n")).toContain("customRules must be a mapping");
  });
});
