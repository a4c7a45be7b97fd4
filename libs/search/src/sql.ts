import {
  COLUMNS,
  type Column,
  type Comparison,
  type Condition,
  type Field,
  PATH_ROOTS,
  type Query,
  QueryError,
  resolveKind,
  type Scalar,
} from "@atoll/ir";
import { BUILTIN_RESOURCE_TYPES, parseLabelSelector } from "@atoll/kube";
// node-sql-parser is CommonJS; Node's ESM loader exposes it only as a default export.
import sqlParser from "node-sql-parser/build/postgresql.js";
import { parseDuration } from "./keyword.js";
import { fieldText } from "./render.js";

// biome-ignore lint/suspicious/noExplicitAny: node-sql-parser's AST is loosely typed
type Node = any;

const parser = new sqlParser.Parser();
const HINT =
  "write SELECT * FROM resources WHERE ... [ORDER BY ...] [LIMIT n [OFFSET m]], or SELECT col, COUNT(*) FROM resources ... GROUP BY col";
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\[(?:\*|\d+|'[^']*')\]|\.[A-Za-z_][A-Za-z0-9_-]*)+/;

/**
 * Replaces JSON paths (status.phase, spec.containers[*].image) and map lookups (labels['app'])
 * outside string literals with placeholder identifiers of the same length, so the parser sees
 * plain columns and its error positions still point into the user's text.
 */
function extractFields(text: string): { text: string; fields: Map<string, string> } {
  const fields = new Map<string, string>();
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'") {
      let j = i + 1;
      while (j < text.length && !(text[j] === "'" && text[j + 1] !== "'")) j += text[j] === "'" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const previous = i === 0 ? " " : text[i - 1]!;
    const match = /[A-Za-z_]/.test(ch) && !/[A-Za-z0-9_.]/.test(previous) ? PATH.exec(text.slice(i)) : null;
    if (match) {
      const placeholder = `_${fields.size.toString(36)}`.padEnd(match[0].length, "_");
      fields.set(placeholder, match[0]);
      out += placeholder;
      i += match[0].length;
      continue;
    }
    out += ch;
    i += 1;
  }
  return { text: out, fields };
}

function pathField(expression: string): Field {
  const map = /^(labels|annotations)\['([^']*)'\]$/.exec(expression);
  if (map)
    return map[1] === "labels" ? { kind: "label", key: map[2]! } : { kind: "annotation", key: map[2]! };
  const segments: string[] = [];
  for (const part of expression.matchAll(/([A-Za-z_][A-Za-z0-9_-]*)|\[(\*|\d+|'[^']*')\]/g)) {
    segments.push(part[1] ?? part[2]!.replace(/^'|'$/g, ""));
  }
  const root = segments[0];
  if (!(PATH_ROOTS as readonly string[]).includes(root ?? "")) {
    throw new QueryError(
      "UNKNOWN_COLUMN",
      `"${expression}" is not a column or a path into the object`,
      undefined,
      `paths start at metadata, spec, status or data; columns are ${COLUMNS.join(", ")}, labels['k'], annotations['k']`,
    );
  }
  return { kind: "path", segments };
}

const VIRTUAL = new Set(["status", "age"]);

function fieldOf(node: Node, fields: Map<string, string>): Field {
  if (node?.type !== "column_ref")
    throw new QueryError(
      "UNSUPPORTED_EXPRESSION",
      "the left side of a condition must be a column, a label or a path",
      undefined,
      HINT,
    );
  const name: string = typeof node.column === "string" ? node.column : node.column?.expr?.value;
  if (node.table)
    throw new QueryError(
      "UNKNOWN_COLUMN",
      `"${node.table}.${name}" is not a column`,
      undefined,
      `columns are ${COLUMNS.join(", ")}`,
    );
  const expression = fields.get(name);
  if (expression) return pathField(expression);
  const column = COLUMNS.find((c) => c.toLowerCase() === name.toLowerCase());
  if (column) return { kind: "column", name: column as Column };
  throw new QueryError(
    "UNKNOWN_COLUMN",
    `unknown column "${name}"`,
    undefined,
    `allowed: ${COLUMNS.join(", ")}, labels['k'], annotations['k'], status, age, search('words'), condition('Type'), and paths such as status.phase or spec.template.spec.containers[*].image`,
  );
}

function literalOf(node: Node): Scalar {
  switch (node?.type) {
    case "single_quote_string":
    case "string":
      return String(node.value).replace(/''/g, "'");
    case "number":
      return Number(node.value);
    case "bool":
      return Boolean(node.value);
    default:
      throw new QueryError(
        "UNSUPPORTED_EXPRESSION",
        "the right side of a condition must be a literal ('text', a number, true or false)",
        undefined,
        "subqueries are not allowed; a comparison may also have a path on both sides, as in status.readyReplicas < spec.replicas",
      );
  }
}

/** kind = 'pod' means Pod, as kind:pod does: nobody should need to know a kind's case. */
function kindOf<T>(field: Field, value: T): T | string {
  return field.kind === "column" && field.name === "kind" && typeof value === "string"
    ? resolveKind(value)
    : value;
}

const COMPARISONS: Record<string, Comparison> = {
  "=": "=",
  "!=": "!=",
  "<>": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
};

function columnName(node: Node): string | undefined {
  return node?.type === "column_ref" && !node.table
    ? typeof node.column === "string"
      ? node.column
      : node.column?.expr?.value
    : undefined;
}

/** The lower-cased name of a function call node, such as "search" or "condition". */
const functionName = (node: Node): string | undefined =>
  node?.type === "function" ? node.name?.name?.[0]?.value?.toLowerCase() : undefined;

/**
 * owned_by('Deployment', 'web', 2): objects a named owner of that kind owns, in the same cluster;
 * generations counts the levels down (1, the default, is direct children; a deployment's pods are 2).
 */
function ownedBy(args: Node[]): Condition {
  const kind = resolveKind(String(literalOf(args[0])));
  const generations = args[2] === undefined ? 1 : Number(literalOf(args[2]));
  if (!Number.isInteger(generations) || generations < 1 || generations > 3)
    throw new QueryError(
      "UNSUPPORTED_EXPRESSION",
      "owned_by() counts 1 to 3 generations down",
      undefined,
      "owned_by('Deployment', 'web', 2) for a deployment's pods, owned_by('Job', 'backup') for a job's",
    );
  const type = BUILTIN_RESOURCE_TYPES.find((t) => t.kind === kind);
  return {
    type: "owner",
    owner: {
      name: String(literalOf(args[1])),
      ...(type ? { group: type.group, resource: type.resource } : {}),
    },
    seniority: generations - 1,
  };
}

function conditionOf(node: Node, fields: Map<string, string>): Condition {
  if (node?.type === "function") {
    const name = functionName(node);
    const args = node.args?.value ?? [];
    if (name === "search" && args.length === 1) return { type: "text", words: [String(literalOf(args[0]))] };
    if (name === "not" && args.length === 1) return { type: "not", of: conditionOf(args[0], fields) };
    if (name === "owned_by" && (args.length === 2 || args.length === 3)) return ownedBy(args);
    throw new QueryError(
      "UNSUPPORTED_FUNCTION",
      `function ${name ?? "?"}() is not allowed in WHERE`,
      undefined,
      "only search('words') and owned_by('Kind', 'name', generations) are",
    );
  }
  if (node?.type === "unary_expr" && node.operator?.toUpperCase() === "NOT")
    return { type: "not", of: conditionOf(node.expr, fields) };
  if (node?.type !== "binary_expr")
    throw new QueryError("UNSUPPORTED_EXPRESSION", "expected a condition", undefined, HINT);
  const operator: string = node.operator.toUpperCase();
  if (operator === "AND" || operator === "OR") {
    const type = operator === "AND" ? "and" : "or";
    const parts = [conditionOf(node.left, fields), conditionOf(node.right, fields)];
    return { type, of: parts.flatMap((part) => (part.type === type ? part.of : [part])) };
  }
  if (functionName(node.left) === "condition") {
    const args = node.left.args?.value ?? [];
    if (args.length !== 1 || !["=", "!=", "<>"].includes(operator))
      throw new QueryError(
        "UNSUPPORTED_EXPRESSION",
        "condition('Type') takes one condition type and supports = 'Status' and != 'Status' only",
        undefined,
        "for example condition('Ready') != 'True' for nodes or pods that are not ready",
      );
    return {
      type: "condition",
      name: String(literalOf(args[0])),
      status: String(literalOf(node.right)),
      negated: operator !== "=",
    };
  }
  const virtual = columnName(node.left);
  if (virtual && VIRTUAL.has(virtual.toLowerCase()) && !fields.has(virtual)) {
    if (virtual.toLowerCase() === "status" && operator === "=")
      return { type: "status", value: String(literalOf(node.right)) };
    // status IN ('A', 'B') is any of them: one object shows several reasons at once.
    if (virtual.toLowerCase() === "status" && operator === "IN")
      return {
        type: "or",
        of: (node.right?.value ?? []).map((v: Node) => ({ type: "status", value: String(literalOf(v)) })),
      };
    if (virtual.toLowerCase() === "age" && (operator === "<" || operator === ">"))
      return { type: "age", op: operator, seconds: parseDuration(String(literalOf(node.right))) };
    throw new QueryError(
      "UNSUPPORTED_EXPRESSION",
      `${virtual} supports ${virtual === "status" ? "= 'Reason' and IN ('Reason', ...)" : "< '1h' and > '7d'"} only`,
    );
  }
  const field = fieldOf(node.left, fields);
  if (COMPARISONS[operator] && node.right?.type === "column_ref")
    return {
      type: "compareFields",
      left: field,
      op: COMPARISONS[operator]!,
      right: fieldOf(node.right, fields),
    };
  if (COMPARISONS[operator])
    return {
      type: "compare",
      field,
      op: COMPARISONS[operator]!,
      value: kindOf(field, literalOf(node.right)),
    };
  if (operator === "IN" || operator === "NOT IN") {
    const values = (node.right?.value ?? []).map((v: Node) => kindOf(field, literalOf(v)));
    if (field.kind === "label") {
      const [requirement] = parseLabelSelector(
        `${field.key} ${operator === "IN" ? "in" : "notin"} (${values.join(",")})`,
      );
      return { type: "label", requirement: requirement! };
    }
    return { type: "in", field, values, negated: operator === "NOT IN" };
  }
  if (["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"].includes(operator)) {
    return {
      type: "like",
      field,
      pattern: String(literalOf(node.right)),
      negated: operator.startsWith("NOT"),
      caseInsensitive: operator.endsWith("ILIKE"),
    };
  }
  if (operator === "IS" || operator === "IS NOT") {
    if (node.right?.type !== "null")
      throw new QueryError("UNSUPPORTED_EXPRESSION", `${operator} must be followed by NULL`);
    return { type: "null", field, negated: operator === "IS NOT" };
  }
  if (operator === "BETWEEN" || operator === "NOT BETWEEN") {
    const [low, high] = node.right?.value ?? [];
    return {
      type: "between",
      field,
      low: literalOf(low),
      high: literalOf(high),
      negated: operator === "NOT BETWEEN",
    };
  }
  throw new QueryError(
    "UNSUPPORTED_OPERATOR",
    `operator ${operator} is not allowed`,
    undefined,
    "use =, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, ILIKE, IS [NOT] NULL, [NOT] BETWEEN, AND, OR, NOT",
  );
}

function limitOf(node: Node): { limit?: number; offset?: number } {
  const values: number[] = (node?.value ?? []).map((v: Node) => Number(v.value));
  if (values.length === 0) return {};
  if (values.some((v) => !Number.isInteger(v) || v < 0))
    throw new QueryError("INVALID_LIMIT", "LIMIT and OFFSET take whole numbers");
  // OFFSET m alone parses as one value after an "offset" separator.
  if (values.length === 1)
    return node.seperator === "offset" ? { offset: values[0]! } : { limit: values[0]! };
  return node.seperator === ","
    ? { offset: values[0]!, limit: values[1]! }
    : { limit: values[0]!, offset: values[1]! };
}

/** Where a keyword first appears outside string literals, 1-based; undefined if nowhere. */
function keywordPosition(text: string, keyword: RegExp): number | undefined {
  const blanked = text.replace(/'(?:[^']|'')*'/g, (literal) => " ".repeat(literal.length));
  const match = new RegExp(keyword.source, "i").exec(blanked);
  return match ? match.index + 1 : undefined;
}

/**
 * Clauses the parser reads but the translation has no place for. Each is refused by name and
 * position rather than dropped, so a query either runs as written or not at all.
 */
const UNTRANSLATED: { present: (select: Node) => boolean; clause: string; keyword: RegExp; hint?: string }[] =
  [
    {
      present: (s) => Boolean(s._next || s.set_op),
      clause: "UNION, INTERSECT and EXCEPT",
      keyword: /\b(union|intersect|except)\b/,
    },
    { present: (s) => s.into?.position != null, clause: "SELECT ... INTO", keyword: /\binto\b/ },
    {
      present: (s) => Boolean(s._limit),
      clause: "a second LIMIT",
      keyword: /(?<=\blimit\b[\s\S]*)\blimit\b/,
      hint: "write one LIMIT n [OFFSET m]",
    },
    {
      present: (s) => Boolean(s.distinct?.type),
      clause: "DISTINCT",
      keyword: /\bdistinct\b/,
      hint: "rows are distinct already; count distinct values with GROUP BY col and COUNT(*)",
    },
    { present: (s) => Boolean(s.window), clause: "WINDOW", keyword: /\bwindow\b/ },
    { present: (s) => Boolean(s.options), clause: "SELECT options", keyword: /\bselect\b/ },
    {
      present: (s) => Boolean(s.from?.[0]?.tablesample),
      clause: "TABLESAMPLE",
      keyword: /\btablesample\b/,
      hint: "LIMIT n returns a bounded page instead",
    },
    {
      present: (s) => Boolean(s.from?.[0]?.as),
      clause: "a table alias",
      keyword: /\bresources\s+(as\s+)?\w/,
      hint: "name columns as they are, without a table",
    },
    {
      present: (s) => (s.columns ?? []).some((c: Node) => c.as != null),
      clause: "a column alias (AS)",
      keyword: /\bas\b/,
      hint: "groups are keyed by their column names and the count is always count",
    },
    {
      present: (s) => (s.orderby ?? []).some((o: Node) => o.nulls != null),
      clause: "NULLS FIRST/LAST",
      keyword: /\bnulls\b/,
      hint: "rows without the field sort last ascending and first descending",
    },
  ];

/** Keys of expression nodes the translation reads; anything else set on a node is refused. */
const EXPRESSION_KEYS = new Set([
  "type",
  "operator",
  "left",
  "right",
  "value",
  "table",
  "column",
  "expr",
  "args",
  "name",
  "parentheses",
  "collate",
]);

function refuseUntranslatedClauses(select: Node, text: string): void {
  for (const rule of UNTRANSLATED)
    if (rule.present(select)) {
      const position = keywordPosition(text, rule.keyword);
      throw new QueryError(
        "UNSUPPORTED_CLAUSE",
        `${rule.clause} is not supported${position ? ` (at position ${position})` : ""}`,
        position,
        rule.hint ?? HINT,
      );
    }
}

/** After translation: any part of an expression the translation did not read is refused. */
function refuseUnreadKeys(select: Node, text: string): void {
  const walk = (node: Node): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (value === null || value === undefined) continue;
      if (!EXPRESSION_KEYS.has(key) || (key === "collate" && value)) {
        const word =
          key === "escape" ? "ESCAPE" : key === "over" ? "OVER" : key === "collate" ? "COLLATE" : key;
        const position = keywordPosition(text, new RegExp(`\\b${word}\\b`));
        throw new QueryError(
          "UNSUPPORTED_CLAUSE",
          `${word} is not supported${position ? ` (at position ${position})` : ""}`,
          position,
          word === "ESCAPE" ? "LIKE patterns escape % and _ with a backslash" : HINT,
        );
      }
      walk(value);
    }
  };
  walk([
    select.where,
    select.columns?.map((c: Node) => c.expr),
    select.groupby?.columns,
    select.orderby?.map((o: Node) => o.expr),
  ]);
}

const PARSED_CACHE_SIZE = 1000;
const parsed = new Map<string, Query>();

/**
 * Atoll's SQL: one SELECT over the virtual table resources, parsed (never passed through) and
 * turned into the same IR as every other front end. Parsing costs about a millisecond, as much
 * as an indexed search, and dashboards repeat their queries, so the last 1000 are kept.
 */
export function parseSqlQuery(input: string): Query {
  const cached = parsed.get(input);
  if (cached) {
    // Most recently used goes last, so the oldest is the first key.
    parsed.delete(input);
    parsed.set(input, cached);
    return cached;
  }
  const query = parseUncached(input);
  parsed.set(input, query);
  if (parsed.size > PARSED_CACHE_SIZE) parsed.delete(parsed.keys().next().value!);
  return query;
}

function parseUncached(input: string): Query {
  const { text, fields } = extractFields(input.trim().replace(/;\s*$/, ""));
  let ast: Node;
  try {
    ast = parser.astify(text, { database: "PostgresQL" });
  } catch (error) {
    const location = (error as { location?: { start?: { offset: number } } }).location?.start;
    const near = location ? input.slice(location.offset, location.offset + 20) : "";
    throw new QueryError(
      "SQL_SYNTAX",
      `syntax error${location ? ` at position ${location.offset + 1}${near ? ` near "${near}"` : " (the query ends too early)"}` : ""}`,
      location ? location.offset + 1 : undefined,
      HINT,
    );
  }
  if (Array.isArray(ast)) {
    if (ast.length !== 1)
      throw new QueryError("ONE_STATEMENT", "send exactly one statement", undefined, HINT);
    ast = ast[0];
  }
  if (ast.type !== "select")
    throw new QueryError(
      "ONLY_SELECT",
      `only SELECT is allowed, not ${String(ast.type).toUpperCase()}`,
      undefined,
      HINT,
    );
  if (ast.with) throw new QueryError("UNSUPPORTED_CLAUSE", "WITH is not allowed", undefined, HINT);
  const from: Node[] = ast.from ?? [];
  if (from.length !== 1 || from[0].table?.toLowerCase() !== "resources" || from[0].join || from[0].expr) {
    throw new QueryError(
      "ONLY_RESOURCES",
      "query exactly one table, resources, with no joins or subqueries",
      undefined,
      HINT,
    );
  }
  if (ast.having) throw new QueryError("UNSUPPORTED_CLAUSE", "HAVING is not allowed", undefined, HINT);
  refuseUntranslatedClauses(ast, text);
  const groupBy = (ast.groupby?.columns ?? []).map((c: Node) => fieldOf(c, fields));
  const columns: Node[] = ast.columns ?? [];
  const star = columns.length === 1 && (columns[0].expr?.column === "*" || columns[0].expr?.type === "star");
  const counts = columns.filter((c) => c.expr?.type === "aggr_func");
  if (!star) {
    const countOnly =
      counts.length === 1 &&
      counts[0].expr.name.toUpperCase() === "COUNT" &&
      (counts[0].expr.args?.expr?.type === "star" || counts[0].expr.args?.expr?.value === "*");
    const others = columns.filter((c) => c.expr?.type !== "aggr_func").map((c) => fieldOf(c.expr, fields));
    if (!countOnly)
      throw new QueryError(
        "UNSUPPORTED_COLUMNS",
        "select * or grouped columns with COUNT(*)",
        undefined,
        HINT,
      );
    const same = (a: Field, b: Field) => JSON.stringify(a) === JSON.stringify(b);
    const ungrouped = others.find((field) => !groupBy.some((g: Field) => same(g, field)));
    if (ungrouped || others.length !== groupBy.length)
      throw new QueryError(
        "UNSUPPORTED_COLUMNS",
        ungrouped
          ? `${fieldText(ungrouped)} is selected but not in GROUP BY; every selected column must be grouped`
          : "every GROUP BY column must be selected, so each count says what it counts",
        undefined,
        HINT,
      );
  } else if (groupBy.length) {
    throw new QueryError(
      "UNSUPPORTED_COLUMNS",
      "GROUP BY needs COUNT(*) in the select list",
      undefined,
      HINT,
    );
  }
  const orderBy: Query["orderBy"] = [];
  for (const o of ast.orderby ?? []) {
    // Aggregations always come largest count first; ORDER BY COUNT(*) just says so.
    if (o.expr?.type === "aggr_func") {
      if (star)
        throw new QueryError("UNSUPPORTED_CLAUSE", "ORDER BY COUNT(*) needs GROUP BY", undefined, HINT);
      continue;
    }
    orderBy.push({
      field: fieldOf(o.expr, fields),
      direction: String(o.type ?? "ASC").toLowerCase() === "desc" ? "desc" : "asc",
    });
  }
  const query: Query = {
    ...(ast.where ? { where: conditionOf(ast.where, fields) } : {}),
    orderBy,
    ...limitOf(ast.limit),
    ...(!star ? { aggregate: { groupBy } } : {}),
  };
  refuseUnreadKeys(ast, text);
  return query;
}
