export { isHealthy, WorkApplier, type WorkApplierOptions } from "./applier.js";
export { type BatcherOptions, ResourceBatcher } from "./batcher.js";
export { CapacityTracker, type Quantities } from "./capacity.js";
export {
  ClusterSync,
  type ClusterSyncOptions,
  heartbeatCodec,
  resourceBatchCodec,
  toWireEvent,
} from "./cluster-sync.js";
export { heartbeatToRow } from "./heartbeat.js";
export { ResourceIndexer, type ResourceIndexerOptions } from "./indexer.js";
export { ClusterLeases, type LeaseOptions } from "./leases.js";
export {
  AGENT_APPLY_RULES,
  AGENT_GATEWAY_RULES,
  AGENT_READ_RULES,
  type AgentManifestOptions,
  agentManifest,
  agentNatsUrlFrom,
  PLACEHOLDER_NATS_URL,
} from "./manifest.js";
export { batchToOps, clusterOfSubject, invalidBatchReason } from "./ops.js";
export { type PushClusterSpec, PushFleet, type PushFleetOptions } from "./push-fleet.js";
export {
  type ClusterPlacementFields,
  ClusterRegistry,
  clusterNameFromContext,
  RegistrationError,
  type RegistryOptions,
} from "./registry.js";
export {
  defaultSyncRules,
  parseSyncRules,
  planReflectors,
  type ReflectorPlan,
  SyncRulesError,
  trimObject,
  validateSyncRules,
} from "./rules.js";
export {
  requestSyncRules,
  rulesFromJson,
  rulesToJson,
  serveSyncRules,
  syncRulesReplyCodec,
} from "./rules-responder.js";
