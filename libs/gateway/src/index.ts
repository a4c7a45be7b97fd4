export {
  AgentUnavailableError,
  BusProxyClient,
  DEFAULT_TUNING,
  type ProxyCall,
  type ProxyReply,
  ProxyReplyError,
  ProxyResponder,
  type ProxyResponderOptions,
  type StreamTuning,
} from "./bus-transport.js";
export {
  Gateway,
  type GatewayAuditEntry,
  type GatewayCluster,
  GatewayError,
  type GatewayOptions,
  type GatewayTarget,
  gatewayTarget,
} from "./gateway.js";
export { type ClusterIdentity, clusterIdentity } from "./headers.js";
