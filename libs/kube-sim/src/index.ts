export {
  type Churn,
  type ClusterFault,
  type GeneratedCluster,
  type GenerateOptions,
  generateCluster,
  type PodFailure,
  seededRandom,
  startChurn,
} from "./generator.js";
export { mergePatch } from "./patch.js";
export type { PortDialer, PortForwardTarget } from "./port-forward.js";
export { KubeSim, type KubeSimOptions, type SimAccess, type SimRequestRecord } from "./server.js";
export { type Obj, SimError, type SimEvent, SimStore } from "./store.js";
export { selfSignedTls, type TlsMaterial } from "./tls.js";
