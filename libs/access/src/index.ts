export {
  can,
  canProxy,
  clustersAllowed,
  type Grant,
  GrantError,
  grantsBeyond,
  NOTHING,
  type Principal,
  parseGrants,
  reachesCluster,
  seesWholeCluster,
  VERBS,
  type Verb,
  visibleClusters,
  visibleRows,
  visibleScope,
} from "./grants.js";
export { hashSecret, mintToken, parseToken, secretMatches } from "./tokens.js";
