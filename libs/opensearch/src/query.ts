import {
  type Column,
  type Condition,
  type Cursor,
  type Field,
  fieldText,
  type Query,
  QueryError,
  type Scalar,
  textQuery,
} from "@atoll/search";

type Dsl = Record<string, unknown>;

/** Document fields behind the IR's columns; apiVersion is group/version and handled apart. */
const COLUMN_FIELDS: Record<Exclude<Column, "apiVersion">, string> = {
  cluster: "cluster",
  group: "apiGroup",
  version: "apiVersion",
  kind: "kind",
  namespace: "namespace",
  name: "name",
  uid: "uid",
  creationTimestamp: "createdAt",
  resourceVersion: "resourceVersion",
};

/** Walks a path through the document source; "*" fans out over arrays. Shared by the scripts below. */
const WALK = `def values = [params._source];
for (def segment : params.path) {
  def next = [];
  for (def value : values) {
    if (segment == '*') { if (value instanceof List) { next.addAll(value); } }
    else if (value instanceof Map && value.containsKey(segment)) { next.add(value.get(segment)); }
  }
  values = next;
}
`;

/** Emits the JSON numbers a path reaches; anything else is skipped, as Postgres reads it as null. */
const NUMBERS_SCRIPT = `${WALK}for (def value : values) {
  if (value instanceof Number) { emit(((Number) value).doubleValue()); }
}`;

/** Emits the scalar values a path reaches, for grouping by labels or JSON paths. */
const KEYWORDS_SCRIPT = `${WALK}for (def value : values) {
  if (value != null && !(value instanceof Map) && !(value instanceof List)) { emit(value.toString()); }
}`;

/** Compares two numeric paths, a missing value counting as zero (Kubernetes omits zero counters). */
const COMPARE_FIELDS_SCRIPT = `double first(def source, def path) {
  def value = source;
  for (def segment : path) {
    if (value instanceof Map && value.containsKey(segment)) { value = value.get(segment); } else { return 0; }
  }
  if (value instanceof Number) { return ((Number) value).doubleValue(); }
  return 0;
}
double l = first(params._source, params.left);
double r = first(params._source, params.right);
String op = params.op;
emit(op == '=' ? l == r : op == '!=' ? l != r : op == '<' ? l < r : op == '<=' ? l <= r : op == '>' ? l > r : l >= r);`;

const RANGE: Record<string, string> = { "<": "lt", "<=": "lte", ">": "gt", ">=": "gte" };

/** A translation in progress: derived fields are declared on the request, numbered in order. */
class Translation {
  readonly derived: Record<string, Dsl> = {};

  private derive(type: string, source: string, params: Dsl): string {
    const name = `atoll_derived_${Object.keys(this.derived).length}`;
    this.derived[name] = { type, script: { source, params } };
    return name;
  }

  /** Source path of a field, for scripts. */
  private sourcePath(field: Field): string[] {
    if (field.kind === "label") return ["labels", field.key];
    if (field.kind === "annotation") return ["annotations", field.key];
    if (field.kind === "path") return ["object", ...field.segments];
    return [this.keyword(field)];
  }

  /** The keyword (or flat_object subfield) a field is matched on exactly. */
  keyword(field: Field): string {
    switch (field.kind) {
      case "column":
        if (field.name === "apiVersion")
          throw new QueryError(
            "UNSUPPORTED_BY_BACKEND",
            "apiVersion supports only = and != on OpenSearch",
            undefined,
            "filter on group and version instead",
          );
        return COLUMN_FIELDS[field.name];
      case "label":
        return `labels.${field.key}`;
      case "annotation":
        return `annotations.${field.key}`;
      case "path":
        if (field.segments.some((s) => /^\d+$/.test(s)))
          throw new QueryError(
            "UNSUPPORTED_BY_BACKEND",
            `"${fieldText(field)}" names an array position, which OpenSearch does not index`,
            undefined,
            "use [*] to match any element",
          );
        // flat_object flattens arrays, so [*] is implied by the dotted path.
        return `object.${field.segments.filter((s) => s !== "*").join(".")}`;
    }
  }

  /** A numeric view of a field: typed columns directly, anything else through a derived field. */
  private numeric(field: Field): string {
    if (field.kind === "column" && (field.name === "resourceVersion" || field.name === "creationTimestamp"))
      return COLUMN_FIELDS[field.name];
    return this.derive("double", NUMBERS_SCRIPT, { path: this.sourcePath(field) });
  }

  /** A field to group or sort on: keyword columns directly, anything else through a derived field. */
  groupField(field: Field): string {
    if (field.kind === "column") return this.keyword(field);
    return this.derive("keyword", KEYWORDS_SCRIPT, { path: this.sourcePath(field) });
  }

  private equals(field: Field, value: Scalar): Dsl {
    if (field.kind === "column" && field.name === "apiVersion") {
      const text = String(value);
      const slash = text.indexOf("/");
      return {
        bool: {
          filter: [
            { term: { apiGroup: slash < 0 ? "" : text.slice(0, slash) } },
            { term: { apiVersion: slash < 0 ? text : text.slice(slash + 1) } },
          ],
        },
      };
    }
    if (typeof value === "number" && field.kind !== "column")
      return { term: { [this.numeric(field)]: value } };
    return { term: { [this.keyword(field)]: typeof value === "string" ? value : String(value) } };
  }

  private range(field: Field, bounds: Record<string, Scalar>): Dsl {
    const numericBounds = Object.values(bounds).every((v) => typeof v === "number");
    const target =
      numericBounds || (field.kind === "column" && field.name === "resourceVersion")
        ? this.numeric(field)
        : field.kind === "column" && field.name === "creationTimestamp"
          ? "createdAt"
          : this.keyword(field);
    return { range: { [target]: bounds } };
  }

  condition(c: Condition): Dsl {
    switch (c.type) {
      case "and":
        return { bool: { filter: c.of.map((x) => this.condition(x)) } };
      case "or":
        return { bool: { should: c.of.map((x) => this.condition(x)), minimum_should_match: 1 } };
      case "not":
        return { bool: { must_not: [this.condition(c.of)] } };
      case "compare":
        if (c.op === "=") return this.equals(c.field, c.value);
        // Kubernetes semantics: != also matches objects without the field.
        if (c.op === "!=") return { bool: { must_not: [this.equals(c.field, c.value)] } };
        return this.range(c.field, { [RANGE[c.op]!]: c.value });
      case "compareFields":
        return {
          term: {
            [this.derive("boolean", COMPARE_FIELDS_SCRIPT, {
              left: this.sourcePath(c.left),
              right: this.sourcePath(c.right),
              op: c.op,
            })]: true,
          },
        };
      case "in": {
        if (c.values.length === 0) return c.negated ? { match_all: {} } : { match_none: {} };
        const any: Dsl =
          c.values.every((v) => typeof v === "string") &&
          !(c.field.kind === "column" && c.field.name === "apiVersion")
            ? { terms: { [this.keyword(c.field)]: c.values } }
            : { bool: { should: c.values.map((v) => this.equals(c.field, v)), minimum_should_match: 1 } };
        return c.negated ? { bool: { must_not: [any] } } : any;
      }
      case "like": {
        const match = {
          wildcard: {
            [this.keyword(c.field)]: {
              value: likeToWildcard(c.pattern),
              case_insensitive: c.caseInsensitive,
            },
          },
        };
        return c.negated ? { bool: { must_not: [match] } } : match;
      }
      case "null": {
        const exists = { exists: { field: this.keyword(c.field) } };
        return c.negated ? exists : { bool: { must_not: [exists] } };
      }
      case "between": {
        const inside = this.range(c.field, { gte: c.low, lte: c.high });
        return c.negated ? { bool: { must_not: [inside] } } : inside;
      }
      case "label": {
        const { key, operator, values } = c.requirement;
        const field = `labels.${key}`;
        switch (operator) {
          case "=":
          case "in":
            return { terms: { [field]: values } };
          case "!=":
          case "notin":
            return { bool: { must_not: [{ terms: { [field]: values } }] } };
          case "exists":
            return { exists: { field } };
          case "!":
            return { bool: { must_not: [{ exists: { field } }] } };
          case "gt":
          case "lt":
            return this.range({ kind: "label", key }, { [operator]: Number(values[0]) });
        }
        return { match_none: {} };
      }
      case "status":
        return { term: { statusReasons: c.value.toLowerCase() } };
      case "condition": {
        const reported = { term: { conditions: `${c.name}=${c.status}` } };
        return c.negated ? { bool: { must_not: [reported] } } : reported;
      }
      case "owner":
        if (c.owner.uid !== undefined && c.seniority === 0) return { term: { ownerUids: c.owner.uid } };
        // searchOpenSearch looks these owners up first (resolveOwners) and leaves only uids.
        throw new QueryError(
          "OWNER_UNRESOLVED",
          "an owner named by name, or more than one generation up, must be resolved to uids against the index before translation",
        );
      case "age":
        return { range: { createdAt: { [c.op === "<" ? "gt" : "lt"]: `now-${c.seconds}s` } } };
      case "text": {
        const words = textQuery(c.words)
          ?.split(" & ")
          .map((w) => w.replace(/:\*$/, ""));
        return words
          ? { bool: { filter: words.map((w) => ({ prefix: { searchText: w } })) } }
          : { match_all: {} };
      }
    }
  }
}

/** SQL LIKE to an OpenSearch wildcard: % and _ become * and ?, and literal * ? \ are escaped. */
export function likeToWildcard(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\" && i + 1 < pattern.length) {
      const next = pattern[++i]!;
      out += /[*?\\]/.test(next) ? `\\${next}` : next;
    } else if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else if (/[*?]/.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

const EXACT_TOTAL_LIMIT = 10_000;
const MAX_GROUPS = 1000;
const DEFAULT_SORT = ["cluster", "kind", "namespace", "name", "uid"] as const;

/**
 * The search request for a query on the resource index: the same IR the Postgres back end runs,
 * with the same semantics (Kubernetes != and missing labels, numbers read from text, zero for
 * missing counters). Pages by search_after in the default order, by from/size otherwise; totals
 * are exact up to 10,000. Numeric comparisons on JSON paths use derived fields (OpenSearch 2.15+).
 */
export function searchRequest(
  query: Query,
  page: { limit: number; after?: Cursor | { offset: number }; withTotal?: boolean },
): Dsl {
  const t = new Translation();
  const filter = query.where ? t.condition(query.where) : { match_all: {} };
  const body: Dsl = { query: { bool: { filter: [filter] } } };
  if (query.aggregate) {
    const groups = query.aggregate.groupBy.map((g) => t.groupField(g));
    const size = Math.min(query.limit ?? MAX_GROUPS, MAX_GROUPS);
    Object.assign(body, {
      size: 0,
      track_total_hits: page.withTotal ? EXACT_TOTAL_LIMIT + 1 : false,
      ...(groups.length === 0
        ? {}
        : {
            aggs: {
              groups:
                groups.length === 1
                  ? { terms: { field: groups[0], size, order: [{ _count: "desc" }, { _key: "asc" }] } }
                  : {
                      multi_terms: {
                        terms: groups.map((field) => ({ field })),
                        size,
                        order: [{ _count: "desc" }, { _key: "asc" }],
                      },
                    },
            },
          }),
    });
  } else if (
    query.orderBy.length > 0 ||
    query.offset !== undefined ||
    // A LIMIT is the caller's total over as many pages as it takes, as on Postgres.
    query.limit !== undefined ||
    (page.after && "offset" in page.after)
  ) {
    const offset = page.after && "offset" in page.after ? page.after.offset : (query.offset ?? 0);
    const start = offset - (query.offset ?? 0);
    const size =
      query.limit === undefined ? page.limit : Math.max(0, Math.min(page.limit, query.limit - start));
    const sort = query.orderBy.map((o) => {
      if (o.field.kind !== "column")
        throw new QueryError(
          "UNSUPPORTED_BY_BACKEND",
          `ORDER BY ${fieldText(o.field)} is not available on OpenSearch`,
          undefined,
          "order by a column: cluster, kind, namespace, name, creationTimestamp or resourceVersion",
        );
      return { [t.keyword(o.field)]: { order: o.direction, missing: "_last" } };
    });
    Object.assign(body, {
      from: offset,
      size: size + 1,
      sort: sort.length > 0 ? [...sort, { uid: "asc" }] : DEFAULT_SORT.map((field) => ({ [field]: "asc" })),
    });
  } else {
    const a = page.after && !("offset" in page.after) ? page.after : undefined;
    const size = page.limit;
    Object.assign(body, {
      size: size + 1,
      sort: DEFAULT_SORT.map((field) => ({ [field]: "asc" })),
      ...(a ? { search_after: DEFAULT_SORT.map((field) => a[field]) } : {}),
    });
  }
  if (!query.aggregate) body.track_total_hits = page.withTotal ? EXACT_TOTAL_LIMIT + 1 : false;
  if (Object.keys(t.derived).length) body.derived = t.derived;
  return body;
}
