/** The annotation the hub adds to every object it serves from the index: the cluster it lives in. */
export const CLUSTER_ANNOTATION = "atoll.dev/cluster";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are loose JSON
type Obj = Record<string, any>;

/** The object as stored, with the cluster it lives in as an annotation. */
export function annotated(item: { cluster: string; object: unknown }): Obj {
  const object = item.object as Obj;
  return {
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { ...object.metadata?.annotations, [CLUSTER_ANNOTATION]: item.cluster },
    },
  };
}
