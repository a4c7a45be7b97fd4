export {
  type ApplyResult,
  applyDocuments,
  fleetWriter,
  requestPlacement,
  WriteForbiddenError,
  type Writer,
} from "./apply.js";
export {
  bindingClusterNames,
  bindingWithin,
  type ClusterHealth,
  type ClusterStatus,
  clusterStatuses,
} from "./binding-status.js";
export {
  clusterInfo,
  FleetHealth,
  type FleetView,
  fleetView,
  followHeartbeats,
  type HeardStatus,
} from "./fleet.js";
export { FleetMonitor, type FleetMonitorOptions } from "./monitor.js";
export {
  clusterStates,
  type PlacementContext,
  PlacementController,
  type PlacementControllerOptions,
  restartedAgents,
} from "./scheduler.js";
export { recordWorkStatuses } from "./status.js";
