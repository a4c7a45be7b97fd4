import type { z } from "@atoll/config";
import { JsonPathError, SelectorError } from "@atoll/kube";
import { OpenSearchError } from "@atoll/opensearch";
import { QueryError } from "@atoll/search";
import { databaseUnavailable } from "@atoll/store";

/** One error shape for every endpoint (RFC 9457 problem details), with a stable code. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toJSON(instance?: string) {
    return {
      type: `https://atoll.dev/problems/${this.code.toLowerCase().replace(/_/g, "-")}`,
      title: this.title,
      status: this.status,
      code: this.code,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...this.extra,
    };
  }
}

export const badRequest = (code: string, detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(400, code, "Bad request", detail, extra);

/** Every error a handler can raise, as the problem the caller sees. */
export function problemOf(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof SelectorError) return badRequest("INVALID_SELECTOR", error.message);
  if (error instanceof JsonPathError) return badRequest(error.code, error.message);
  if (error instanceof QueryError)
    return badRequest(error.code, error.message, {
      ...(error.position ? { position: error.position } : {}),
      ...(error.hint ? { hint: error.hint } : {}),
    });
  // Drizzle wraps the driver's error; what went wrong is the driver's error, its cause.
  const cause = (error as { cause?: unknown }).cause;
  if (cause && typeof cause === "object" && "code" in cause && !(error as { code?: unknown }).code)
    return problemOf(cause);
  const { code, statusCode, message } = error as { code?: unknown; statusCode?: number; message?: string };
  // Class 54 is a program limit the query itself hit (stack depth, too many columns or arguments).
  if (typeof code === "string" && code.startsWith("54"))
    return badRequest(
      "QUERY_TOO_COMPLEX",
      `the query is too large for the database to run (${message}); split it into smaller queries`,
    );
  if (error instanceof OpenSearchError)
    return new HttpProblem(
      503,
      error.code,
      "Search back end failed",
      `${error.message}; retry, or ask an operator to check OpenSearch`,
    );
  if (code === "57014")
    return new HttpProblem(
      503,
      "QUERY_TIMEOUT",
      "Query timed out",
      "the query ran longer than the statement timeout; narrow it with a kind, namespace or cluster filter",
    );
  // Checked after the statement timeout, which is class 57 too but the query's own doing.
  if (databaseUnavailable(error))
    return new HttpProblem(
      503,
      "DATABASE_UNAVAILABLE",
      "Database unavailable",
      "the hub's database did not answer (a connection was lost or refused); retry in a few seconds",
    );
  // Postgres class 22 is bad data in a value the user supplied (a malformed timestamp, a NUL character).
  if (typeof code === "string" && code.startsWith("22"))
    return badRequest("INVALID_VALUE", `a value in the request is not valid for its field: ${message}`);
  if (statusCode && statusCode < 500)
    return new HttpProblem(statusCode, "BAD_REQUEST", "Bad request", message ?? "");
  return new HttpProblem(
    500,
    "INTERNAL",
    "Internal error",
    "the server failed to answer; the error is logged with this request id",
  );
}

/** A request body checked against its schema; every problem is named by its field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  throw badRequest("INVALID_BODY", problems.join("; "));
}
