/**
 * The console's one way to the hub: the HTTP API, same origin, with the signed-in user's token.
 * The token lives in sessionStorage, so it leaves with the tab; the console holds no data and no
 * power of its own.
 */
const TOKEN_KEY = "atoll.token";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The API's refusal, with its code and what to do, as problem+json said it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fired when the hub no longer takes the token, so the shell can ask for another. */
export const SIGNED_OUT = "atoll:signed-out";

// biome-ignore lint/suspicious/noExplicitAny: the pages read the API's JSON by its documented shape
export type Json = any;

export async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<Json> {
  const headers: Record<string, string> = { accept: "application/json" };
  const current = token.get();
  if (current) headers.authorization = `Bearer ${current}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  } catch {
    throw new ApiError(0, "UNREACHABLE", "the hub did not answer; check your connection and try again");
  }
  const text = await response.text();
  let body: Json = text;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // A non-JSON answer is shown as it is.
  }
  if (response.ok) return body;
  if (response.status === 401) {
    token.clear();
    window.dispatchEvent(new Event(SIGNED_OUT));
  }
  throw new ApiError(
    response.status,
    typeof body === "object" && body?.code ? String(body.code) : String(response.status),
    typeof body === "object" && (body?.detail || body?.message)
      ? String(body.detail ?? body.message)
      : `the hub answered ${response.status}`,
  );
}

/** A path with its query, leaving out empty parameters. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
