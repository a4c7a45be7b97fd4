export { ResourceIndexer, type ResourceIndexerOptions } from "./indexer.js";
export { ClusterLeases, type LeaseOptions } from "./leases.js";
export { batchToOps, invalidBatchReason } from "./ops.js";
