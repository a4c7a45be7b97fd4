import { QueryError } from "@atoll/ir";
import { describe, expect, it } from "vitest";
import { toSqlText } from "./render.js";
import { parseSqlQuery } from "./sql.js";

/** What parsing the input throws; undefined if it parses. */
function refusal(input: string): unknown {
  try {
    parseSqlQuery(input);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("SQL front end", () => {
  it.each([
    [
      "select * from resources where kind = 'Pod' and namespace != 'kube-system'",
      "SELECT * FROM resources WHERE kind = 'Pod' AND namespace != 'kube-system'",
    ],
    [
      "SELECT * FROM resources WHERE labels['app'] != 'x' OR labels['app.kubernetes.io/name'] IN ('a', 'b')",
      "SELECT * FROM resources WHERE labels['app'] != 'x' OR labels['app.kubernetes.io/name'] IN ('a', 'b')",
    ],
    [
      "SELECT * FROM resources WHERE status.phase = 'Running' AND spec.replicas >= 3",
      "SELECT * FROM resources WHERE status.phase = 'Running' AND spec.replicas >= 3",
    ],
    [
      "SELECT * FROM resources WHERE spec.template.spec.containers[*].image LIKE 'nginx%'",
      "SELECT * FROM resources WHERE spec.template.spec.containers[*].image LIKE 'nginx%'",
    ],
    [
      "SELECT * FROM resources WHERE kind = 'Pod' AND owned_by('deployments', 'web', 2)",
      "SELECT * FROM resources WHERE kind = 'Pod' AND owned_by('Deployment', 'web', 2)",
    ],
    [
      "SELECT * FROM resources WHERE owned_by('Job', 'backup')",
      "SELECT * FROM resources WHERE owned_by('Job', 'backup')",
    ],
    [
      "SELECT * FROM resources WHERE resourceVersion NOT BETWEEN 10 AND 20",
      "SELECT * FROM resources WHERE resourceVersion NOT BETWEEN 10 AND 20",
    ],
    [
      "SELECT * FROM resources WHERE name ILIKE 'WEB%' AND uid IS NOT NULL AND NOT (kind IN ('Secret'))",
      "SELECT * FROM resources WHERE name ILIKE 'WEB%' AND uid IS NOT NULL AND NOT kind IN ('Secret')",
    ],
    [
      "SELECT * FROM resources WHERE status = 'CrashLoopBackOff' AND age < '1h' AND search('checkout')",
      "SELECT * FROM resources WHERE status = 'CrashLoopBackOff' AND age < '1h' AND search('checkout')",
    ],
    [
      "SELECT * FROM resources WHERE name = 'it''s' ORDER BY creationTimestamp DESC, name LIMIT 5 OFFSET 10",
      "SELECT * FROM resources WHERE name = 'it''s' ORDER BY creationTimestamp DESC, name ASC LIMIT 5 OFFSET 10",
    ],
    [
      "SELECT kind, COUNT(*) FROM resources WHERE cluster = 'a' GROUP BY kind ORDER BY COUNT(*) DESC",
      "SELECT kind, COUNT(*) FROM resources WHERE cluster = 'a' GROUP BY kind",
    ],
    [
      "SELECT * FROM resources WHERE kind = 'Deployment' AND status.readyReplicas < spec.replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND status.readyReplicas < spec.replicas",
    ],
    [
      "SELECT * FROM resources WHERE kind = 'Node' AND condition('Ready') <> 'True'",
      "SELECT * FROM resources WHERE kind = 'Node' AND condition('Ready') != 'True'",
    ],
    [
      "SELECT * FROM resources WHERE status IN ('Evicted', 'OOMKilled') AND condition('MemoryPressure') = 'True'",
      "SELECT * FROM resources WHERE status IN ('Evicted', 'OOMKilled') AND condition('MemoryPressure') = 'True'",
    ],
    [
      // Inside a wider OR the statuses are alternatives like any other, and read back as such.
      "SELECT * FROM resources WHERE status IN ('Evicted', 'OOMKilled') OR kind = 'Node'",
      "SELECT * FROM resources WHERE status = 'Evicted' OR status = 'OOMKilled' OR kind = 'Node'",
    ],
    ["select * from resources", "SELECT * FROM resources"],
  ])("%s", (input, canonical) => {
    const query = parseSqlQuery(input);
    expect(toSqlText(query)).toBe(canonical);
    expect(parseSqlQuery(toSqlText(query))).toEqual(query);
  });

  it("keeps NOT BETWEEN apart from BETWEEN (Karpor treats them the same)", () => {
    const query = parseSqlQuery("SELECT * FROM resources WHERE resourceVersion NOT BETWEEN 1 AND 2");
    expect(query.where).toMatchObject({ type: "between", negated: true });
  });

  it.each([
    ["SELECT * FROM resources WHERE", "SQL_SYNTAX", /syntax error.*ends too early|syntax error at position/],
    ["SELECT * FROM resources WHERE kind = 'Pod' AND", "SQL_SYNTAX", /syntax error/],
    ["DELETE FROM resources", "ONLY_SELECT", /only SELECT is allowed, not DELETE/],
    ["UPDATE resources SET name = 'x'", "ONLY_SELECT", /only SELECT/],
    ["SELECT * FROM secrets", "ONLY_RESOURCES", /exactly one table, resources/],
    ["SELECT * FROM resources r JOIN clusters c ON r.cluster = c.name", "ONLY_RESOURCES", /no joins/],
    ["SELECT * FROM resources WHERE name IN (SELECT name FROM tokens)", "UNSUPPORTED_EXPRESSION", /literal/],
    ["SELECT * FROM resources WHERE colour = 'red'", "UNKNOWN_COLUMN", /unknown column "colour"/],
    ["SELECT * FROM resources WHERE foo.bar = 1", "UNKNOWN_COLUMN", /not a column or a path/],
    ["SELECT * FROM resources WHERE name = other", "UNKNOWN_COLUMN", /unknown column "other"/],
    ["SELECT * FROM resources WHERE pg_sleep(10)", "UNSUPPORTED_FUNCTION", /pg_sleep/],
    ["SELECT * FROM resources; DROP TABLE resources", "SQL_SYNTAX|ONE_STATEMENT", /statement|syntax/],
    ["SELECT name FROM resources", "UNSUPPORTED_COLUMNS", /select \*/],
    ["SELECT kind, COUNT(DISTINCT name) FROM resources GROUP BY kind", "UNSUPPORTED_COLUMNS", /COUNT\(\*\)/],
    [
      "SELECT name, COUNT(*) FROM resources GROUP BY namespace",
      "UNSUPPORTED_COLUMNS",
      /name is selected but not in GROUP BY/,
    ],
    [
      "SELECT kind, COUNT(*) FROM resources GROUP BY kind, namespace",
      "UNSUPPORTED_COLUMNS",
      /must be selected/,
    ],
    [
      "SELECT * FROM resources WHERE condition('Ready') > 'True'",
      "UNSUPPORTED_EXPRESSION",
      /condition\('Type'\)/,
    ],
    [
      "SELECT * FROM resources WHERE condition('Ready', 'x') = 'True'",
      "UNSUPPORTED_EXPRESSION",
      /one condition type/,
    ],
    ["SELECT * FROM resources WHERE status != 'Running'", "UNSUPPORTED_EXPRESSION", /IN \('Reason'/],
  ])("rejects %s", (input, code, message) => {
    const error = refusal(input);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as QueryError).code).toMatch(new RegExp(`^(${code})$`));
    expect((error as QueryError).message).toMatch(message);
  });

  it.each([
    ["SELECT * FROM resources UNION SELECT * FROM resources", /UNION, INTERSECT and EXCEPT/, 25],
    ["SELECT * FROM resources EXCEPT SELECT * FROM resources WHERE kind = 'Pod'", /UNION, INTERSECT/, 25],
    ["SELECT * INTO stolen FROM resources", /SELECT \.\.\. INTO/, 10],
    ["SELECT * FROM resources TABLESAMPLE SYSTEM (10)", /TABLESAMPLE/, 25],
    ["SELECT * FROM resources WHERE name LIKE 'a!%' ESCAPE '!'", /ESCAPE/, 47],
    ["SELECT * FROM resources LIMIT 5 LIMIT 10", /a second LIMIT/, 33],
    ["SELECT DISTINCT * FROM resources", /DISTINCT/, 8],
    ["SELECT * FROM resources r WHERE kind = 'Pod'", /a table alias/, 15],
    ["SELECT kind AS k, COUNT(*) FROM resources GROUP BY kind", /a column alias/, 13],
    ["SELECT kind, COUNT(*) AS n FROM resources GROUP BY kind", /a column alias/, 23],
    ["SELECT * FROM resources ORDER BY name NULLS FIRST", /NULLS FIRST\/LAST/, 39],
    ["SELECT * FROM resources WINDOW w AS (PARTITION BY kind)", /WINDOW/, 25],
  ])("refuses %s by name and position instead of dropping it", (input, message, position) => {
    const error = refusal(input);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as QueryError).code).toBe("UNSUPPORTED_CLAUSE");
    expect((error as QueryError).message).toMatch(message);
    expect((error as QueryError).position).toBe(position);
  });

  it.each([
    ["SELECT * FROM resources ORDER BY name OFFSET 10", { offset: 10 }, "ORDER BY name ASC OFFSET 10"],
    [
      "SELECT * FROM resources ORDER BY name LIMIT 5 OFFSET 10",
      { limit: 5, offset: 10 },
      "LIMIT 5 OFFSET 10",
    ],
    ["SELECT * FROM resources LIMIT 7", { limit: 7 }, "LIMIT 7"],
  ])("pages %s exactly as written", (input, page, echoed) => {
    const query = parseSqlQuery(input);
    expect({ limit: query.limit, offset: query.offset }).toEqual({
      limit: undefined,
      offset: undefined,
      ...page,
    });
    expect(toSqlText(query)).toContain(echoed);
  });

  it("reports where a syntax error is and what is allowed", () => {
    try {
      parseSqlQuery("SELECT * FROM resources WHERE kind == 'Pod'");
    } catch (e) {
      const error = e as QueryError;
      expect(error.position).toBe(37);
      expect(error.hint).toMatch(/SELECT \* FROM resources WHERE/);
      return;
    }
    throw new Error("expected a syntax error");
  });

  it("lists the allowed columns for an unknown one", () => {
    expect(() => parseSqlQuery("SELECT * FROM resources WHERE nope = 1")).toThrow(QueryError);
    try {
      parseSqlQuery("SELECT * FROM resources WHERE nope = 1");
    } catch (e) {
      expect((e as QueryError).hint).toMatch(/cluster, apiVersion, group, version, kind, namespace, name/);
    }
  });
});
