import type { JsonPatch } from "./image.js";

export class PatchError extends Error {
  readonly code = "INVALID_PATCH";
}

// biome-ignore lint/suspicious/noExplicitAny: patches walk schemaless JSON
type Json = any;

const unescapeToken = (token: string) => token.replace(/~1/g, "/").replace(/~0/g, "~");

function parent(document: Json, path: string): { container: Json; key: string } {
  if (!path.startsWith("/")) throw new PatchError(`"${path}" is not a JSON pointer; it starts with /`);
  const tokens = path.split("/").slice(1).map(unescapeToken);
  const key = tokens.pop()!;
  let container = document;
  for (const token of tokens) {
    if (container === null || typeof container !== "object" || !(token in container))
      throw new PatchError(`path ${path}: "${token}" does not exist`);
    container = container[token];
  }
  if (container === null || typeof container !== "object")
    throw new PatchError(`path ${path}: the parent is not an object or array`);
  return { container, key };
}

/** RFC 6902 add, remove and replace on a copy of the document. */
export function applyJsonPatch<T>(document: T, patches: JsonPatch[]): T {
  let result: Json = structuredClone(document);
  for (const patch of patches) {
    if (patch.path === "") {
      if (patch.op === "remove") throw new PatchError("the whole document cannot be removed");
      result = structuredClone(patch.value);
      continue;
    }
    const { container, key } = parent(result, patch.path);
    if (Array.isArray(container)) {
      const index = key === "-" ? container.length : Number(key);
      if (
        !Number.isInteger(index) ||
        index < 0 ||
        index > container.length ||
        (patch.op !== "add" && index >= container.length)
      )
        throw new PatchError(`path ${patch.path}: index ${key} is out of range`);
      if (patch.op === "add") container.splice(index, 0, structuredClone(patch.value));
      else if (patch.op === "remove") container.splice(index, 1);
      else container[index] = structuredClone(patch.value);
      continue;
    }
    if (patch.op !== "add" && !(key in container))
      throw new PatchError(`path ${patch.path}: "${key}" does not exist`);
    if (patch.op === "remove") delete container[key];
    else container[key] = structuredClone(patch.value);
  }
  return result;
}
