import { composeYaml, YamlLimitError } from "@atoll/kube";
import { LineCounter, YAMLMap, YAMLSeq, type Node as YamlNode } from "yaml";
import {
  type AuditRule,
  audit,
  type Category,
  type InsightConfig,
  SEVERITIES,
  type Severity,
} from "./audit.js";
import { auditRules } from "./custom.js";
import { namespaceOf, type Obj } from "./objects.js";

/** How much each open finding of a severity lowers a health score. */
export const SEVERITY_WEIGHT: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 5 };

/**
 * One object's health from its open findings: 100·e^(−0.04·findings − 0.06·weight). The
 * resource_health view computes the same in SQL for the indexed fleet.
 */
export function healthScore(open: readonly Severity[]): number {
  const weight = open.reduce((sum, severity) => sum + SEVERITY_WEIGHT[severity], 0);
  return 100 * Math.exp(-0.04 * open.length - 0.06 * weight);
}

/** An object read from a manifest file, with where it starts so a report can point at it. */
export interface ManifestObject {
  object: Obj;
  file: string;
  line: number;
}

export class ManifestError extends Error {
  readonly code = "INVALID_MANIFEST";
}

/**
 * The Kubernetes objects in one file's YAML or JSON, each with its first line. A `List` (as
 * `kubectl get -o yaml` prints) gives its items; empty documents are skipped.
 */
export function readManifest(text: string, file: string): ManifestObject[] {
  const lineCounter = new LineCounter();
  const lineOf = (node: YamlNode | null | undefined) =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const objects: ManifestObject[] = [];
  let documents: ReturnType<typeof composeYaml>;
  try {
    documents = composeYaml(text, { lineCounter });
  } catch (error) {
    if (error instanceof YamlLimitError) throw new ManifestError(`${file}: ${error.message}`);
    throw error;
  }
  for (const document of documents) {
    const error = document.errors[0];
    if (error) throw new ManifestError(`${file}:${error.linePos?.[0].line ?? 1}: ${error.message}`);
    const value = document.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) continue;
    const line = lineOf(document.contents);
    const items = document.contents instanceof YAMLMap ? document.contents.get("items", true) : undefined;
    const entries =
      isObject(value) &&
      typeof value.kind === "string" &&
      value.kind.endsWith("List") &&
      Array.isArray(value.items)
        ? value.items.map((item: unknown, i: number) => ({
            value: item,
            line: items instanceof YAMLSeq ? lineOf(items.items[i] as YamlNode) : line,
          }))
        : [{ value, line }];
    for (const entry of entries) {
      if (!isObject(entry.value) || typeof entry.value.kind !== "string" || !entry.value.kind)
        throw new ManifestError(`${file}:${entry.line}: not a Kubernetes object: it has no kind`);
      objects.push({ object: entry.value, file, line: entry.line });
    }
  }
  return objects;
}

const isObject = (value: unknown): value is Obj =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export interface ReportFinding {
  rule: string;
  severity: Severity;
  category: Category;
  kind: string;
  namespace: string;
  name: string;
  container?: string;
  file: string;
  line: number;
  description: string;
  why: string;
  fix: string;
}

export interface AuditReport {
  objects: number;
  /** Failed checks, most severe first, then in file order. */
  findings: ReportFinding[];
  bySeverity: Record<Severity, number>;
  /** The mean of every object's health score, clean objects counting 100. */
  score: number;
  /** The rules that ran, for reports that describe them (SARIF). */
  rules: AuditRule[];
}

const identity = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/**
 * Audits a set of manifests as the indexer audits a cluster: every configured rule, including
 * the ones that read other objects (PDBs, roles, service accounts) within the set.
 */
export function auditManifests(manifests: ManifestObject[], config: InsightConfig = {}): AuditReport {
  const rules = auditRules(config);
  const byRule = new Map(rules.map((r) => [r.id, r]));
  const where = new Map<string, ManifestObject>();
  for (const m of manifests) {
    const key = identity(m.object.kind, namespaceOf(m.object), m.object.metadata?.name ?? "");
    if (!where.has(key)) where.set(key, m);
  }
  const findings: ReportFinding[] = [];
  for (const f of audit(
    manifests.map((m) => m.object),
    rules,
    config,
  )) {
    if (f.passed) continue;
    const at = where.get(identity(f.kind, f.namespace, f.name))!;
    const rule = byRule.get(f.rule)!;
    findings.push({
      rule: f.rule,
      severity: f.severity,
      category: f.category,
      kind: f.kind,
      namespace: f.namespace,
      name: f.name,
      ...(f.container ? { container: f.container } : {}),
      file: at.file,
      line: at.line,
      description: f.message,
      why: rule.why,
      fix: rule.fix,
    });
  }
  const order = new Map(manifests.map((m, i) => [m, i]));
  const position = (f: ReportFinding) => order.get(where.get(identity(f.kind, f.namespace, f.name))!)!;
  findings.sort(
    (a, b) =>
      SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) ||
      position(a) - position(b) ||
      a.rule.localeCompare(b.rule),
  );
  const openByObject = new Map<string, Severity[]>();
  for (const f of findings) {
    const key = identity(f.kind, f.namespace, f.name);
    openByObject.set(key, [...(openByObject.get(key) ?? []), f.severity]);
  }
  const scores = [...where.keys()].map((key) => healthScore(openByObject.get(key) ?? []));
  return {
    objects: where.size,
    findings,
    bySeverity: Object.fromEntries(
      SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]),
    ) as Record<Severity, number>,
    score: scores.length === 0 ? 100 : scores.reduce((a, b) => a + b, 0) / scores.length,
    rules,
  };
}

const where = (f: ReportFinding) =>
  `${f.kind} ${f.namespace ? `${f.namespace}/` : ""}${f.name}${f.container ? ` (container ${f.container})` : ""}`;

/** The report as a person reads it in a terminal or a CI log. */
export function reportText(report: AuditReport): string {
  const lines = report.findings.map(
    (f) =>
      `${f.file}:${f.line}  ${f.severity.padEnd(8)} ${f.rule}  ${where(f)}: ${f.description}${f.fix ? `\n    fix: ${f.fix}` : ""}`,
  );
  const counts = SEVERITIES.filter((s) => report.bySeverity[s] > 0)
    .reverse()
    .map((s) => `${report.bySeverity[s]} ${s}`);
  lines.push(
    `${report.objects} object${report.objects === 1 ? "" : "s"}, ${report.findings.length} finding${
      report.findings.length === 1 ? "" : "s"
    }${counts.length ? ` (${counts.join(", ")})` : ""}, score ${report.score.toFixed(1)}`,
  );
  return lines.join("\n");
}

/** SARIF levels: what code-scanning tools show as errors, warnings and notes. */
const SARIF_LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** GitHub code scanning ranks security findings by this score (0–10). */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

/** The report as SARIF 2.1.0, for code-scanning dashboards; `tool` names the producer and version. */
export function reportSarif(report: AuditReport, tool: { name: string; version: string }): Obj {
  const fired = [...new Set(report.findings.map((f) => f.rule))];
  const rules = fired.map((id) => report.rules.find((r) => r.id === id)!);
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: tool.name,
            version: tool.version,
            rules: rules.map((rule) => ({
              id: rule.id,
              name: rule.id,
              shortDescription: { text: rule.description },
              fullDescription: { text: rule.why || rule.description },
              help: { text: rule.fix || rule.description },
              defaultConfiguration: { level: SARIF_LEVEL[rule.severity] },
              properties: {
                category: rule.category,
                severity: rule.severity,
                ...(rule.category === "Security"
                  ? { "security-severity": SECURITY_SEVERITY[rule.severity] }
                  : {}),
              },
            })),
          },
        },
        results: report.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: fired.indexOf(f.rule),
          level: SARIF_LEVEL[f.severity],
          message: { text: `${where(f)}: ${f.description}` },
          locations: [
            {
              physicalLocation: { artifactLocation: { uri: f.file }, region: { startLine: f.line } },
              logicalLocations: [
                {
                  kind: "resource",
                  fullyQualifiedName: [
                    f.namespace,
                    f.kind,
                    f.name,
                    ...(f.container ? ["container", f.container] : []),
                  ]
                    .filter(Boolean)
                    .join("/"),
                },
              ],
            },
          ],
        })),
      },
    ],
  };
}
