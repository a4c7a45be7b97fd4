/**
 * How the MCP tools reach the hub: through its HTTP API, as the caller. Over HTTP the query
 * service hands each tool call to its own routes with the caller's Authorization header; over
 * stdio the CLI sends it to the hub's URL with the user's token. Either way the API's grants
 * decide every answer, and the tools add no power of their own.
 */
export interface ApiRequest {
  method: "GET" | "POST";
  /** The path, with its query already encoded. */
  path: string;
  /** A JSON body, for POST. */
  body?: unknown;
}

export interface ApiAnswer {
  status: number;
  /** The parsed JSON answer, or the text when it was not JSON. */
  body: unknown;
}

export type ApiCaller = (request: ApiRequest) => Promise<ApiAnswer>;

/** An error a tool reports to its caller: what went wrong and what to do, no stack. */
export class ToolError extends Error {
  override name = "ToolError";
}

/** A path with its query string, leaving out parameters that were not given. */
export function pathWith(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * The answer's body when the API accepted the request; otherwise a ToolError carrying the API's
 * own problem (its code and what to change), so an agent reads the same advice a person would.
 */
export async function send(call: ApiCaller, request: ApiRequest): Promise<unknown> {
  const answer = await call(request);
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  // The API answers problem+json (detail); the gateway answers as Kubernetes does (a Status's message).
  const problem = (answer.body ?? {}) as {
    code?: unknown;
    detail?: unknown;
    title?: unknown;
    message?: unknown;
  };
  const detail =
    typeof problem.detail === "string"
      ? problem.detail
      : typeof problem.message === "string"
        ? problem.message
        : typeof problem.title === "string"
          ? problem.title
          : typeof answer.body === "string" && answer.body.length > 0
            ? answer.body.slice(0, 500)
            : "the hub gave no reason";
  const code = typeof problem.code === "string" ? `${problem.code}: ` : "";
  const retry = answer.status >= 500 ? " (the hub could not answer; try again shortly)" : "";
  throw new ToolError(`the hub answered ${answer.status}: ${code}${detail}${retry}`);
}
