import type { JsonObject } from "@atoll/kube";

/**
 * Merge patches as the API server accepts them; strategic merge is approximated by JSON merge patch.
 * JSON Patch (RFC 6902) is @atoll/kube's applyJsonPatch.
 */

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function merge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = merge(result[key], value);
  }
  return result;
}

/** RFC 7386 on an object: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: JsonObject, patch: unknown): JsonObject {
  return merge(target, patch) as JsonObject;
}

/** Drops strategic-merge directives ($patch, $setElementOrder/..., $retainKeys) before merging. */
export function stripDirectives(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.map(stripDirectives);
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    out[key] = stripDirectives(value);
  }
  return out;
}
