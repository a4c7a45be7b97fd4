/**
 * Merge patches as the API server accepts them; strategic merge is approximated by JSON merge patch.
 * JSON Patch (RFC 6902) is @atoll/kube's applyJsonPatch.
 */
// biome-ignore lint/suspicious/noExplicitAny: patches operate on schemaless JSON
type Json = any;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Drops strategic-merge directives ($patch, $setElementOrder/..., $retainKeys) before merging. */
export function stripDirectives(patch: Json): Json {
  if (Array.isArray(patch)) return patch.map(stripDirectives);
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    out[key] = stripDirectives(value);
  }
  return out;
}
