import type { JsonObject } from "./json-object.js";
/** The annotation the hub adds to every object it serves from the index: the cluster it lives in. */
export const CLUSTER_ANNOTATION = "atoll.dev/cluster";

/** The object as stored, with the cluster it lives in as an annotation. */
export function annotated(item: { cluster: string; object: unknown }): JsonObject {
  const object = item.object as JsonObject;
  return {
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { ...object.metadata?.annotations, [CLUSTER_ANNOTATION]: item.cluster },
    },
  };
}
