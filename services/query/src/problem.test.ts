import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { problemOf } from "./problem.js";

/** A Postgres error as the client raises it, with the SQLSTATE the server sent. */
const serverError = (code: string) =>
  Object.assign(Object.create(postgres.PostgresError.prototype), { code, message: `server said ${code}` });
/** A connection error as the client raises it, with its own code. */
const connectionError = (code: string) => Object.assign(new Error(`connection: ${code}`), { code });

describe("the problem a caller sees", () => {
  it.each([
    ["a backend terminated by the server (57P01)", serverError("57P01"), 503, "DATABASE_UNAVAILABLE"],
    ["too many connections (53300)", serverError("53300"), 503, "DATABASE_UNAVAILABLE"],
    ["a connection refused", connectionError("ECONNREFUSED"), 503, "DATABASE_UNAVAILABLE"],
    ["a connection reset", connectionError("ECONNRESET"), 503, "DATABASE_UNAVAILABLE"],
    ["a connection the client closed", connectionError("CONNECTION_CLOSED"), 503, "DATABASE_UNAVAILABLE"],
    ["a statement timeout (57014)", serverError("57014"), 503, "QUERY_TIMEOUT"],
    ["bad data in a value (22P02)", serverError("22P02"), 400, "INVALID_VALUE"],
    [
      "a NUL character, wrapped by the query builder",
      Object.assign(new Error("Failed query"), { cause: serverError("22021") }),
      400,
      "INVALID_VALUE",
    ],
    ["a query past the database's stack (54001)", serverError("54001"), 400, "QUERY_TOO_COMPLEX"],
    [
      "a lost connection, wrapped by the query builder",
      Object.assign(new Error("Failed query"), { cause: connectionError("ECONNRESET") }),
      503,
      "DATABASE_UNAVAILABLE",
    ],
    ["a bug", new TypeError("x is undefined"), 500, "INTERNAL"],
  ])("%s answers %i %s", (_, error, status, code) => {
    const problem = problemOf(error);
    expect(problem.status).toBe(status);
    expect(problem.code).toBe(code);
    expect(problem.toJSON("/x")).not.toHaveProperty("stack");
  });
});
