import type { Condition, Field, Query, Scalar } from "@atoll/ir";
import { BUILTIN_RESOURCE_TYPES } from "@atoll/kube";

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const literal = (v: Scalar) => (typeof v === "string" ? quote(v) : String(v));

export function fieldText(field: Field): string {
  switch (field.kind) {
    case "column":
      return field.name;
    case "label":
      return `labels[${quote(field.key)}]`;
    case "annotation":
      return `annotations[${quote(field.key)}]`;
    case "path":
      return field.segments.map((s, i) => (s === "*" ? "[*]" : i === 0 ? s : `.${s}`)).join("");
  }
}

function durationText(seconds: number): string {
  for (const [unit, size] of [
    ["w", 604_800],
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

function conditionText(c: Condition, nested: boolean): string {
  switch (c.type) {
    case "and":
    case "or": {
      if (c.type === "or" && c.of.length > 1 && c.of.every((x) => x.type === "status"))
        return `status IN (${c.of.map((x) => quote((x as { value: string }).value)).join(", ")})`;
      const text = c.of.map((x) => conditionText(x, true)).join(` ${c.type.toUpperCase()} `);
      return nested ? `(${text})` : text;
    }
    case "not":
      return `NOT ${conditionText(c.of, true)}`;
    case "compare":
      return `${fieldText(c.field)} ${c.op} ${literal(c.value)}`;
    case "compareFields":
      return `${fieldText(c.left)} ${c.op} ${fieldText(c.right)}`;
    case "in":
      return `${fieldText(c.field)} ${c.negated ? "NOT IN" : "IN"} (${c.values.map(literal).join(", ")})`;
    case "like":
      return `${fieldText(c.field)} ${c.negated ? "NOT " : ""}${c.caseInsensitive ? "ILIKE" : "LIKE"} ${quote(c.pattern)}`;
    case "null":
      return `${fieldText(c.field)} IS ${c.negated ? "NOT " : ""}NULL`;
    case "between":
      return `${fieldText(c.field)} ${c.negated ? "NOT " : ""}BETWEEN ${literal(c.low)} AND ${literal(c.high)}`;
    case "label": {
      const { key, operator, values } = c.requirement;
      const f = fieldText({ kind: "label", key });
      switch (operator) {
        case "=":
          return `${f} = ${quote(values[0]!)}`;
        case "!=":
          return `${f} != ${quote(values[0]!)}`;
        case "in":
          return `${f} IN (${values.map(quote).join(", ")})`;
        case "notin":
          return `${f} NOT IN (${values.map(quote).join(", ")})`;
        case "exists":
          return `${f} IS NOT NULL`;
        case "!":
          return `${f} IS NULL`;
        case "gt":
          return `${f} > ${values[0]}`;
        case "lt":
          return `${f} < ${values[0]}`;
      }
      return "";
    }
    case "status":
      return `status = ${quote(c.value)}`;
    case "condition":
      return `condition(${quote(c.name)}) ${c.negated ? "!=" : "="} ${quote(c.status)}`;
    case "age":
      return `age ${c.op} ${quote(durationText(c.seconds))}`;
    case "text":
      return `search(${quote(c.words.join(" "))})`;
    case "owner": {
      const { uid, name, group, resource } = c.owner;
      // An owner by uid comes from the kube API's list options and has no SQL form.
      if (uid) return `/* owned by uid ${quote(uid)} */ TRUE`;
      const kind =
        BUILTIN_RESOURCE_TYPES.find((t) => t.group === (group ?? "") && t.resource === resource)?.kind ??
        (resource ? `${resource}${group ? `.${group}` : ""}` : "");
      return `owned_by(${quote(kind)}, ${quote(name ?? "")}${c.seniority ? `, ${c.seniority + 1}` : ""})`;
    }
  }
}

/**
 * The query in Atoll's SQL dialect, for users to read and edit. Besides the columns it uses the
 * virtual columns status and age and the functions search(words) and condition(type), which the SQL
 * front end accepts.
 */
export function toSqlText(query: Query): string {
  let text = "SELECT * FROM resources";
  if (query.aggregate) {
    const groups = query.aggregate.groupBy.map(fieldText);
    text = `SELECT ${[...groups, "COUNT(*)"].join(", ")} FROM resources`;
  }
  if (query.where) text += ` WHERE ${conditionText(query.where, false)}`;
  if (query.aggregate?.groupBy.length)
    text += ` GROUP BY ${query.aggregate.groupBy.map(fieldText).join(", ")}`;
  if (query.orderBy.length)
    text += ` ORDER BY ${query.orderBy.map((o) => `${fieldText(o.field)} ${o.direction.toUpperCase()}`).join(", ")}`;
  if (query.limit !== undefined) text += ` LIMIT ${query.limit}`;
  if (query.offset !== undefined) text += ` OFFSET ${query.offset}`;
  return text;
}
