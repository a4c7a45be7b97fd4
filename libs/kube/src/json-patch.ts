import { isDeepStrictEqual } from "node:util";
import { cloneJson, type JsonObject } from "./json-object.js";

/** A JSON Patch that cannot be applied: a bad pointer, a missing path, a failed test. */
export class JsonPatchError extends Error {
  readonly code = "INVALID_PATCH";
}

export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

const OPERATIONS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

function tokens(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new JsonPatchError(`"${path}" is not a JSON pointer; it starts with /`);
  return path
    .slice(1)
    .split("/")
    .map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

const isContainer = (value: unknown): value is JsonObject => value !== null && typeof value === "object";

/** The container a pointer's last token is in, and that token. */
function parentOf(document: JsonObject, path: string): { container: JsonObject; key: string } {
  const all = tokens(path);
  const key = all.pop()!;
  let container = document;
  for (const token of all) {
    if (!isContainer(container) || !Object.hasOwn(container, token))
      throw new JsonPatchError(`path ${path}: "${token}" does not exist`);
    container = container[token];
  }
  if (!isContainer(container)) throw new JsonPatchError(`path ${path}: the parent is not an object or array`);
  return { container, key };
}

/** An array index a pointer names: "-" (past the end) only where adding; nothing beyond the end. */
function indexIn(array: JsonObject[], key: string, path: string, adding: boolean): number {
  const index = key === "-" && adding ? array.length : /^(0|[1-9]\d*)$/.test(key) ? Number(key) : Number.NaN;
  if (!Number.isInteger(index) || index > array.length || (!adding && index === array.length))
    throw new JsonPatchError(`path ${path}: index ${key} is out of range`);
  return index;
}

function read(document: JsonObject, path: string): JsonObject {
  if (path === "") return document;
  const { container, key } = parentOf(document, path);
  if (Array.isArray(container)) return container[indexIn(container, key, path, false)];
  if (!Object.hasOwn(container, key)) throw new JsonPatchError(`path ${path}: "${key}" does not exist`);
  return container[key];
}

function add(document: JsonObject, path: string, value: JsonObject): JsonObject {
  if (path === "") return value;
  const { container, key } = parentOf(document, path);
  if (Array.isArray(container)) container.splice(indexIn(container, key, path, true), 0, value);
  else container[key] = value;
  return document;
}

function remove(document: JsonObject, path: string): JsonObject {
  if (path === "") throw new JsonPatchError("the whole document cannot be removed");
  const { container, key } = parentOf(document, path);
  if (Array.isArray(container)) container.splice(indexIn(container, key, path, false), 1);
  else if (Object.hasOwn(container, key)) delete container[key];
  else throw new JsonPatchError(`path ${path}: "${key}" does not exist`);
  return document;
}

/**
 * RFC 6902 on a copy of the document: add, remove, replace, move, copy and test, all or nothing.
 * Operations come from users and member clusters, so everything about them is checked.
 */
export function applyJsonPatch<T>(document: T, operations: unknown): T {
  if (!Array.isArray(operations)) throw new JsonPatchError("a JSON patch must be an array of operations");
  let result = cloneJson(document) as JsonObject;
  for (const operation of operations as JsonObject[]) {
    if (!isContainer(operation) || !OPERATIONS.has(operation.op))
      throw new JsonPatchError(`unknown JSON patch operation ${JSON.stringify(operation?.op)}`);
    if (typeof operation.path !== "string")
      throw new JsonPatchError(`a "${operation.op}" operation needs a path`);
    const { op, path, from } = operation as JsonPatchOperation;
    if ((op === "move" || op === "copy") && typeof from !== "string")
      throw new JsonPatchError(`a "${op}" operation needs a from`);
    switch (op) {
      case "add":
        result = add(result, path, cloneJson(operation.value));
        break;
      case "remove":
        result = remove(result, path);
        break;
      case "replace":
        read(result, path);
        result =
          path === ""
            ? cloneJson(operation.value)
            : add(remove(result, path), path, cloneJson(operation.value));
        break;
      case "move": {
        if (path.startsWith(`${from}/`))
          throw new JsonPatchError(`path ${path}: cannot move ${from} into itself`);
        const value = read(result, from!);
        result = add(remove(result, from!), path, value);
        break;
      }
      case "copy":
        result = add(result, path, cloneJson(read(result, from!)));
        break;
      case "test":
        if (!isDeepStrictEqual(read(result, path), operation.value))
          throw new JsonPatchError(`test failed at "${path}"`);
        break;
    }
  }
  return result as T;
}
