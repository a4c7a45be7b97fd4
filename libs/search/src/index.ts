export * from "@atoll/ir";
export { nameCondition, parseDuration, parseKeywordQuery } from "./keyword.js";
export {
  describeTypes,
  discoverableTypes,
  kubeListConditions,
  type OwnerOptions,
  ownerCondition,
} from "./kube-api.js";
export {
  answerNaturalQuestion,
  askLanguageModel,
  type LanguageModelConfig,
  type NaturalAnswer,
} from "./language-model.js";
export {
  type FleetVocabulary,
  imageName,
  type NaturalContext,
  type NaturalParse,
  parseNaturalQuery,
} from "./natural.js";
export { type Cursor, type SearchItem, type SearchPage, searchPostgres } from "./postgres.js";
export { conditionSql, labelSql, textQuery } from "./postgres-sql.js";
export { fieldText, toSqlText } from "./render.js";
export { parseSqlQuery } from "./sql.js";
