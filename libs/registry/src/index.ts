export { SyncRulesError } from "@atoll/sync/rules";
export {
  AGENT_APPLY_RULES,
  AGENT_GATEWAY_RULES,
  AGENT_READ_RULES,
  type AgentManifestOptions,
  agentManifest,
  agentNatsUrlFrom,
  PLACEHOLDER_NATS_URL,
} from "./manifest.js";
export {
  type ClusterPlacementFields,
  ClusterRegistry,
  clusterNameFromContext,
  RegistrationError,
  type RegistryOptions,
} from "./registry.js";
export { serveSyncRules } from "./serve-rules.js";
