/** Patch formats the API server accepts. Strategic merge is approximated by JSON merge patch. */
// biome-ignore lint/suspicious/noExplicitAny: patches operate on schemaless JSON
type Json = any;

export class PatchError extends Error {}

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

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new PatchError(`JSON pointer "${path}" must start with "/"`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc: Json, path: string): { parent: Json; key: string } {
  const parts = pointer(path);
  const key = parts.pop();
  if (key === undefined) throw new PatchError("cannot address the document root here");
  let parent = doc;
  for (const part of parts) {
    parent = parent?.[part];
    if (parent === undefined) throw new PatchError(`path "${path}" does not exist`);
  }
  return { parent, key };
}

function read(doc: Json, path: string): Json {
  let current = doc;
  for (const part of pointer(path)) {
    current = current?.[part];
    if (current === undefined) throw new PatchError(`path "${path}" does not exist`);
  }
  return current;
}

/** RFC 6902. */
export function jsonPatch(document: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError("a JSON patch must be an array of operations");
  const doc = structuredClone(document);
  for (const op of operations) {
    const add = (path: string, value: Json) => {
      const { parent, key } = parentOf(doc, path);
      if (Array.isArray(parent)) {
        const index = key === "-" ? parent.length : Number(key);
        parent.splice(index, 0, value);
      } else parent[key] = value;
    };
    const remove = (path: string) => {
      const { parent, key } = parentOf(doc, path);
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else if (key in parent) delete parent[key];
      else throw new PatchError(`path "${path}" does not exist`);
    };
    switch (op.op) {
      case "add":
        add(op.path, structuredClone(op.value));
        break;
      case "remove":
        remove(op.path);
        break;
      case "replace":
        remove(op.path);
        add(op.path, structuredClone(op.value));
        break;
      case "move": {
        const value = read(doc, op.from);
        remove(op.from);
        add(op.path, value);
        break;
      }
      case "copy":
        add(op.path, structuredClone(read(doc, op.from)));
        break;
      case "test":
        if (JSON.stringify(read(doc, op.path)) !== JSON.stringify(op.value)) {
          throw new PatchError(`test failed at "${op.path}"`);
        }
        break;
      default:
        throw new PatchError(`unknown JSON patch operation "${op.op}"`);
    }
  }
  return doc;
}
