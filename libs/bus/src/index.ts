export type { JsMsg } from "@nats-io/jetstream";
export type { KV, KvEntry } from "@nats-io/kv";
export { createUser as createNkeyUser, fromSeed as nkeyFromSeed } from "@nats-io/nkeys";
export { nkeyAuthenticator } from "@nats-io/transport-node";
export {
  Bus,
  BusAuthError,
  type BusOptions,
  type ConsumeOptions,
  type Consumption,
  type DeadLetter,
  type Delivery,
  type HubBusSettings,
  isBacklogFull,
  isUnreachable,
  retryWhileUnreachable,
} from "./bus.js";
export {
  isLeaseTaken,
  Leadership,
  type LeadershipOptions,
  type LeaderWork,
  whileLeading,
} from "./leadership.js";
export { assertClusterName, type BusNames, busNames, clusterOfSubject } from "./names.js";
export { ReplicaWatch, type ReplicaWatchOptions } from "./replicas.js";
export {
  type AccountLimits,
  agentPermissions,
  DEFAULT_ACCOUNT_LIMITS,
  type NatsClusterMembership,
  type NatsIdentity,
  type NatsTlsFiles,
  natsIdentities,
  type Permissions,
  renderServerConfig,
} from "./security.js";
export { streamConfigs, type TopologySettings, WORK_MAX_BATCH } from "./topology.js";
