export {
  can,
  type Grant,
  GrantError,
  NOTHING,
  type Principal,
  parseGrants,
  seesWholeCluster,
  VERBS,
  type Verb,
  visibleClusters,
  visibleRows,
} from "./grants.js";
export { hashSecret, mintToken, parseToken, secretMatches } from "./tokens.js";
