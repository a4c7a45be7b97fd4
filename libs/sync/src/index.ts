export { type BatcherOptions, ResourceBatcher } from "./batcher.js";
export { CapacityTracker, type Quantities } from "./capacity.js";
export {
  ClusterSync,
  type ClusterSyncOptions,
  defaultSelection,
  heartbeatCodec,
  resourceBatchCodec,
  toWireEvent,
} from "./cluster-sync.js";
export { heartbeatToRow } from "./heartbeat.js";
export { ResourceIndexer, type ResourceIndexerOptions } from "./indexer.js";
export { batchToOps, clusterOfSubject, invalidBatchReason } from "./ops.js";
