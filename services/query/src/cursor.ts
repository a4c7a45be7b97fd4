/** Paging: continue tokens, opaque to clients (a keyset position or an offset), and limits. */
import type { Cursor } from "@atoll/search";
import { badRequest } from "./problem.js";

/** A continue token for a keyset position or an offset. */
export function encodeCursor(cursor: Cursor | { offset: number }): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

export function decodeCursor(token: string): Cursor | { offset: number } {
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor & {
      offset?: number;
    };
    if (Number.isInteger(value.offset) && (value.offset as number) >= 0)
      return { offset: value.offset as number };
    const fields = [value.cluster, value.kind, value.namespace, value.name, value.uid];
    if (fields.every((f) => typeof f === "string")) return value;
  } catch {
    // fall through to the error below
  }
  throw badRequest(
    "INVALID_CONTINUE",
    "the continue token is not one this server issued; repeat the request without it",
  );
}

/** Most items one page of a list holds. */
const MAX_LIMIT = 1000;

/** A list's limit parameter: 1 to MAX_LIMIT, 100 when absent. */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badRequest("INVALID_LIMIT", `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${raw}"`);
  }
  return limit;
}
