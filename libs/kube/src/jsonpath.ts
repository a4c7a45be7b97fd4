import type { JsonObject } from "./json-object.js";

export class JsonPathError extends Error {
  readonly code = "INVALID_JSONPATH";
}

/**
 * The part of kubectl's JSONPath that custom columns and printer columns use: .field, ['key'],
 * [n], [*], and backslash-escaped dots in keys (.metadata.labels.app\.kubernetes\.io/name), with
 * or without the surrounding braces.
 */
export function parseJsonPath(expression: string): (string | number | "*")[] {
  let text = expression.trim();
  if (text.startsWith("{") && text.endsWith("}")) text = text.slice(1, -1).trim();
  if (!text.startsWith(".") && !text.startsWith("["))
    throw new JsonPathError(`"${expression}" is not a JSONPath; start it with a dot, as in .metadata.name`);
  const segments: (string | number | "*")[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ".") {
      let name = "";
      i += 1;
      while (i < text.length && text[i] !== "." && text[i] !== "[") {
        if (text[i] === "\\" && i + 1 < text.length) i += 1;
        name += text[i];
        i += 1;
      }
      if (name) segments.push(name);
      else if (i < text.length && text[i] !== "[")
        throw new JsonPathError(`"${expression}" has an empty field name`);
      continue;
    }
    if (text[i] === "[") {
      const end = text.indexOf("]", i);
      if (end < 0) throw new JsonPathError(`"${expression}" has an unclosed [`);
      const inner = text.slice(i + 1, end).trim();
      if (inner === "*") segments.push("*");
      else if (/^\d+$/.test(inner)) segments.push(Number(inner));
      else if (/^'.*'$|^".*"$/.test(inner)) segments.push(inner.slice(1, -1));
      else
        throw new JsonPathError(
          `"${expression}" has an unsupported subscript [${inner}]; use [n], [*] or ['key']`,
        );
      i = end + 1;
      continue;
    }
    throw new JsonPathError(`"${expression}" is not a JSONPath near "${text.slice(i)}"`);
  }
  return segments;
}

/** Every value the path reaches; [*] fans out over arrays, missing fields yield nothing. */
export function evaluateJsonPath(object: JsonObject, segments: (string | number | "*")[]): unknown[] {
  let current: unknown[] = [object];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || typeof value !== "object") continue;
      if (segment === "*") {
        if (Array.isArray(value)) next.push(...value);
        else next.push(...Object.values(value));
      } else {
        const child = (value as JsonObject)[segment];
        if (child !== undefined) next.push(child);
      }
    }
    current = next;
  }
  return current;
}

/** A cell as kubectl prints it: <none> when empty, values joined by commas, objects as JSON. */
export function cellText(values: unknown[]): string {
  if (values.length === 0) return "<none>";
  return values.map((v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))).join(",");
}

/** kubectl's -o custom-columns=HEADER:.path,... as aligned text. */
export function customColumns(spec: string, objects: JsonObject[]): string {
  const columns = spec.split(",").map((part) => {
    const colon = part.indexOf(":");
    if (colon <= 0)
      throw new JsonPathError(
        `custom column "${part}" must look like HEADER:.json.path, e.g. NAME:.metadata.name`,
      );
    return { header: part.slice(0, colon), path: parseJsonPath(part.slice(colon + 1)) };
  });
  const rows = [
    columns.map((c) => c.header),
    ...objects.map((o) => columns.map((c) => cellText(evaluateJsonPath(o, c.path)))),
  ];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("   ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
