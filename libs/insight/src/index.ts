export {
  AUDIT_RULES,
  type AuditContext,
  type AuditRule,
  audit,
  type Category,
  type CustomRuleDefinition,
  configuredRules,
  EXEMPT_ANNOTATION,
  type Exemption,
  type Finding,
  type InsightConfig,
  isExempt,
  SEVERITIES,
  type Severity,
  type Subject,
  subjectsOf,
  type Target,
} from "./audit.js";
export { InsightConfigError, type InsightFile, insightConfigProblems, readInsightConfig } from "./config.js";
export {
  auditRules,
  customRule,
  SchemaError,
  validateSchema,
} from "./custom.js";
export {
  CROSS_OBJECT_DIAGNOSES,
  CROSS_OBJECT_KINDS,
  CROSS_OBJECT_RULES,
  clusterIssues,
  type Diagnosis,
  diagnose,
  EventIndex,
  objectIssues,
  validCron,
} from "./diagnosis.js";
export { DIAGNOSIS_GUIDE } from "./diagnosis-guide.js";
export { type Obj, podTemplate, WORKLOAD_KINDS } from "./objects.js";
export {
  type AuditReport,
  auditManifests,
  healthScore,
  ManifestError,
  type ManifestObject,
  type ReportFinding,
  readManifest,
  reportSarif,
  reportText,
  SEVERITY_WEIGHT,
} from "./report.js";
export {
  buildTopology,
  type CustomRelation,
  kindGraph,
  neighbourhood,
  REFERRING_KINDS,
  type Reference,
  references,
  type Topology,
  type TopologyEdge,
  type TopologyInput,
  type TopologyNode,
} from "./topology.js";
