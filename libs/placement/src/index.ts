export {
  affinityFilter,
  clusterMatches,
  labelSelectorMatches,
  overflowOrder,
  validLabelKey,
} from "./affinity.js";
export { type AssignInput, assignReplicas, type TargetCluster } from "./assign.js";
export {
  type Authority,
  authorityCovers,
  clustersBeyond,
  coversEveryCluster,
  FLEET_AUTHORITY,
  overrideReach,
  placementReach,
} from "./authority.js";
export {
  assessEvictionTasks,
  type ClusterCondition,
  type ClusterLiveness,
  type ClusterTaintPolicyDoc,
  type ConditionStatus,
  conditionsMatch,
  conditionTaints,
  DEFAULT_EVICTION_GRACE_SECONDS,
  type EvictionTask,
  evictionsDue,
  type FleetDisruption,
  fleetDisruption,
  type MatchCondition,
  NOT_READY_TAINT_KEY,
  readyCondition,
  taintsUnderPolicies,
  UNHEALTHY_FLEET_THRESHOLD,
  UNREACHABLE_TAINT_KEY,
} from "./cluster-health.js";
export {
  addByWeights,
  divideByAvailable,
  divideByWeights,
  duplicated,
  dynamicScale,
  type Strategy,
  staticWeight,
  strategyOf,
} from "./division.js";
export {
  type ClaimingPolicy,
  electPolicy,
  holderAfterPreemption,
  implicitPriority,
  type PolicyRef,
  preempts,
  type ResourceSelector,
  resourceSelectorPriority,
  SelectorPriority,
  type TemplateRef,
} from "./election.js";
export {
  containersPath,
  type ImageComponents,
  type ImageOverrider,
  imageOverridePatches,
  imageString,
  overrideImage,
  parseImage,
  removeTagOrDigest,
  setTagOrDigest,
  splitHostname,
} from "./image.js";
export {
  applyOverriders,
  type CommandArgsOverrider,
  type FieldOverrider,
  type MetadataOverrider,
  type OverridePolicyDoc,
  type Overriders,
  type PlaintextOverrider,
} from "./overrides.js";
export {
  DocumentsError,
  type ParsedDocuments,
  PolicyValidationError,
  parseDocuments,
  readDocuments,
  type TemplateDoc,
  withDefaults,
} from "./policy.js";
export { POLICY_API_VERSION, type PropagationPolicyDoc } from "./propagation-policy.js";
export {
  listRejections,
  reject,
  rejectedClusters,
  rejectionsByCluster,
  rejectionsWithin,
} from "./rejections.js";
export {
  assumeReplicas,
  type ClusterState,
  estimateReplicas,
  FilterMemo,
  failureClearsResult,
  type Resources,
  replicaRequests,
  type ScheduleInput,
  type ScheduleResult,
  scheduleBinding,
  templateReplicas,
} from "./schedule.js";
export {
  type Group,
  groupScore,
  orderCandidates,
  type ScoredGroup,
  scoreGroups,
  selectClusters,
  selectFromGroups,
  selectGroups,
} from "./spread.js";
export {
  type FilterResult,
  matchingTolerations,
  minTolerationTime,
  taintFilter,
  tolerates,
} from "./taints.js";
export * from "./types.js";
export {
  clusterTaintPolicyErrors,
  type FieldError,
  labelSelectorErrors,
  objectMetaErrors,
  overridePolicyErrors,
  placementErrors,
  propagationPolicyErrors,
  validJsonPointer,
} from "./validation.js";
export {
  allocateWebsterSeats,
  byFewerSeatsThenName,
  fnv32a,
  type Seats,
  type TieBreaker,
  tieBreakerForUid,
} from "./webster.js";
export {
  BINDING_LABEL,
  bindingName,
  cleanTemplate,
  dependencies,
  MANAGED_BY_LABEL,
  type RenderedWork,
  type RenderTarget,
  renderWorks,
  reviseReplicas,
} from "./works.js";
