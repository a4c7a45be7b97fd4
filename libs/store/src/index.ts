export {
  AccessError,
  deleteRole,
  findLiveToken,
  insertToken,
  listRoles,
  listTokens,
  putRole,
  type RoleRecord,
  revokeToken,
  type TokenRecord,
} from "./access.js";
export { type ChangeEvent, ChangeFeed, latestChangeId, oldestChangeId, readChanges } from "./changes.js";
export {
  type ClusterHeartbeatRow,
  type ClusterReachability,
  type ClusterRegistryRow,
  type ClusterView,
  clusterReachability,
  listClusterRegistry,
  listClusters,
  recordHeartbeat,
  replaceClusterTaints,
} from "./clusters.js";
export {
  type Database,
  type DatabaseHandle,
  databaseAnswers,
  databaseUnavailable,
  dropDatabase,
  ensureDatabase,
  ISO_TIME_FORMAT,
  isoText,
  isoTime,
  migrateDatabase,
  openDatabase,
  ping,
  SEARCH_SESSION,
  storableJson,
  temporaryDatabase,
} from "./db.js";
export { exampleRow } from "./example-row.js";
export {
  type GatewayAuditFilter,
  type GatewayAuditRecord,
  type GatewayClusterRecord,
  gatewayCluster,
  recordGatewayWrite,
  searchGatewayAudit,
} from "./gateway.js";
export {
  deleteGroupRule,
  type GroupRule,
  getGroupRule,
  listGroupRules,
  putGroupRule,
} from "./group-rules.js";
export { heartbeatToRow } from "./heartbeat.js";
export {
  aboutObjects,
  type EventRow,
  eventsAbout,
  type GroupKey,
  HEALTH_METRICS,
  type HistoryWindow,
  healthScores,
  insightSummary,
  namespaceNeighbourhood,
  type ObjectAddress,
  objectScoreHistory,
  objectsByUid,
  objectsWhere,
  readGroupKey,
  recordedScores,
  resourceGroups,
  SCORE_GROUPINGS,
  type ScoreGrouping,
  severityWeight,
  type TopologyRow,
  topologyRows,
} from "./insight.js";
export {
  type IssueInput,
  type IssueListing,
  listIssues,
  type ObjectIssues,
  recordIssues,
} from "./issues.js";
export { recordMetricSnapshots } from "./metrics.js";
export {
  type IndexedType,
  indexedTypes,
  objectCountsByCluster,
  objectsOfKinds,
} from "./objects.js";
export {
  type AuthorityRecord,
  addEvictionTask,
  type BindingRow,
  bindingsEvicting,
  bindingsTouching,
  claimTemplate,
  clusterWorks,
  deleteBinding,
  deletePolicy,
  deleteTemplate,
  getBinding,
  getPolicy,
  getTemplate,
  listBindings,
  listPolicies,
  listTemplateKeys,
  listWorks,
  type PolicyKey,
  type PolicyRow,
  recordWorkStatus,
  saveBinding,
  type TemplateKey,
  type TemplateRow,
  templateReadiness,
  upsertPolicy,
  upsertTemplate,
  type WorkRow,
} from "./placement.js";
export {
  type ClusterRegistration,
  type ClusterUpdate,
  deleteCluster,
  deletedClusters,
  getSyncRules,
  listPushClusters,
  type PushClusterRecord,
  pullIdentities,
  RegistryError,
  registerCluster,
  updateCluster,
} from "./registry.js";
export {
  type ApplyResult,
  applyIndexOps,
  type IndexOp,
  type ObjectRow,
  pruneTombstones,
  type SettledOp,
  settledOps,
} from "./resources.js";
export * as schema from "./schema/index.js";
export { fleetVocabulary, type VocabularyRow } from "./vocabulary.js";
export { objectWords, wordsOf } from "./words.js";
