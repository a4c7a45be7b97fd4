import { BUILTIN_RESOURCE_TYPES } from "@atoll/kube";
import type { ObjectRow } from "./resources.js";

/**
 * A row as the indexer would write it for an object of a built-in kind, for tests and examples
 * that put objects straight into the index: the uid is made from cluster, kind and name, and the
 * body's metadata is merged over the name, namespace and uid.
 */
export function exampleRow(
  kind: string,
  namespace: string,
  name: string,
  body: Record<string, unknown> = {},
  cluster = "c1",
): ObjectRow {
  const type = BUILTIN_RESOURCE_TYPES.find((t) => t.kind === kind);
  const group = type?.group ?? "";
  const version = type?.version ?? "v1";
  const uid = `uid-${cluster}-${kind}-${name}`;
  const metadata = { name, ...(namespace ? { namespace } : {}), uid, ...(body.metadata as object) };
  return {
    cluster,
    uid,
    apiGroup: group,
    apiVersion: version,
    kind,
    resource: type?.resource ?? `${kind.toLowerCase()}s`,
    namespace,
    name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({
      apiVersion: group ? `${group}/${version}` : version,
      kind,
      ...body,
      metadata,
    }),
  };
}
