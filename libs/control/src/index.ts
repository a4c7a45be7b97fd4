export { type ApplyResult, applyDocuments, requestPlacement } from "./apply.js";
export {
  bindingClusterNames,
  type ClusterHealth,
  type ClusterStatus,
  clusterStatuses,
} from "./binding-status.js";
export { FleetHealth, type FleetView, fleetView, type HeardStatus } from "./fleet.js";
export { FleetMonitor, type FleetMonitorOptions } from "./monitor.js";
export {
  clusterStates,
  type PlacementContext,
  PlacementController,
  type PlacementControllerOptions,
  restartedAgents,
} from "./scheduler.js";
export { recordWorkStatuses } from "./status.js";
