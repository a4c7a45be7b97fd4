import type { Cursor } from "@atoll/search";
import { badRequest } from "./problem.js";

/** Continue tokens: opaque to clients, either a keyset position or an offset. */
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
