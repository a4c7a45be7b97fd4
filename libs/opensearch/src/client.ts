import { resourceIndexName } from "./mapping.js";

export class OpenSearchError extends Error {
  readonly code = "OPENSEARCH_FAILED";
}

export interface OpenSearchWriterOptions {
  url: string;
  /** Prefix of the index and template names, so tests and tenants do not collide. */
  prefix?: string;
  username?: string;
  password?: string;
  /** Injected in tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/** HTTP to one OpenSearch cluster and the resource index in it. */
export class OpenSearchClient {
  readonly index: string;
  private readonly fetch: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: OpenSearchWriterOptions) {
    this.index = resourceIndexName(options.prefix ?? "");
    this.fetch = options.fetch ?? fetch;
    this.headers = options.username
      ? {
          authorization: `Basic ${Buffer.from(`${options.username}:${options.password ?? ""}`).toString("base64")}`,
        }
      : {};
  }

  async request(
    method: string,
    path: string,
    body: string,
    contentType = "application/json",
  ): Promise<Record<string, unknown>> {
    const response = await this.fetch(`${this.options.url.replace(/\/$/, "")}${path}`, {
      method,
      headers: { ...this.headers, "content-type": contentType },
      body,
    });
    const text = await response.text();
    const answer = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (
      !response.ok &&
      !(response.status === 400 && JSON.stringify(answer).includes("resource_already_exists_exception"))
    ) {
      throw new OpenSearchError(
        `OpenSearch ${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`,
      );
    }
    return answer;
  }
}
