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
