export { humanAge } from "./age.js";
export * from "./catalog.js";
export { KubeApiError, KubeClient, type KubeRequest, readBody } from "./client.js";
export { annotated, CLUSTER_ANNOTATION } from "./cluster-annotation.js";
export { discoverResourceTypes } from "./discovery.js";
export {
  type DiscoveryOptions,
  discoveryDocument,
  type ResourceRoute,
  resourceRoute,
  statusObject,
  statusResponseText,
} from "./discovery-docs.js";
export { depthExceeds } from "./json-depth.js";
export { cloneJson, type JsonObject } from "./json-object.js";
export { applyJsonPatch, JsonPatchError, type JsonPatchOperation } from "./json-patch.js";
export { cellText, customColumns, evaluateJsonPath, JsonPathError, parseJsonPath } from "./jsonpath.js";
export { serversKubeconfig, tokenKubeconfig } from "./kubeconfig.js";
export { cpuMillis, type PodRequests, parseQuantity, podRequests } from "./quantity.js";
export { type RedactedSecretValue, redactObject } from "./redact.js";
export {
  epochSyncId,
  type KubeObject,
  newSyncId,
  Reflector,
  type ReflectorEvent,
  type ReflectorOptions,
  type ReflectorState,
  SYNC_ID,
} from "./reflector.js";
export {
  apiPathSegments,
  isStreaming,
  isWrite,
  type RequestInfo,
  RequestPathError,
  type RequestTarget,
  readRequestTarget,
  requestInfo,
  UPGRADE_SUBRESOURCES,
} from "./request-info.js";
export * from "./selectors.js";
export {
  type PrinterColumn,
  podStatusText,
  type TableColumn,
  type TableOptions,
  toTable,
  wantsTable,
} from "./table.js";
export {
  composeYaml,
  DEFAULT_YAML_LIMITS,
  OFF_LOOP_BYTES,
  readYaml,
  readYamlDocuments,
  readYamlDocumentsOffLoop,
  readYamlOffLoop,
  type YamlDocument,
  YamlLimitError,
  type YamlLimits,
} from "./yaml.js";
