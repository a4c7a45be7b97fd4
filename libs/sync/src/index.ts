export { isHealthy, type SharedWatches, WorkApplier, type WorkApplierOptions } from "./applier.js";
export { type BatcherOptions, ResourceBatcher } from "./batcher.js";
export { CapacityTracker, type Quantities } from "./capacity.js";
export { ClusterSync, type ClusterSyncOptions, toWireEvent } from "./cluster-sync.js";
export { type PushClusterSpec, PushFleet, type PushFleetOptions } from "./push-fleet.js";
export {
  defaultSyncRules,
  parseSyncRules,
  planReflectors,
  type ReflectorPlan,
  rulesFromJson,
  rulesToJson,
  SyncRulesError,
  trimObject,
  validateSyncRules,
} from "./rules.js";
export { requestSyncRules } from "./rules-request.js";
