/**
 * A Kubernetes object, or any JSON object, read without a schema: the one loose type for code that
 * walks manifests and API answers whose shape varies by kind. Its fields may be anything.
 */
// biome-ignore lint/suspicious/noExplicitAny: schemaless JSON is walked field by field
export type JsonObject = Record<string, any>;
