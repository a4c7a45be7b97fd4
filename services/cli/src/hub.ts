import { readFileSync } from "node:fs";
import { Agent, fetch } from "undici";
import { SetupError } from "./infra.js";

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON answers are printed, not typed
export type Any = any;

/** Flags every hub command takes. */
export const HUB_OPTIONS = {
  hub: { type: "string" },
  token: { type: "string" },
  "ca-file": { type: "string" },
} as const;

export const HUB_USAGE = `hub:    --hub URL, or ATOLL_URL (default http://127.0.0.1:8080)
        --token T, or ATOLL_TOKEN (a token from \`atoll token create\`, or the hub's admin token)
        --ca-file F, or ATOLL_CA_FILE (the hub's CA certificate, if it is not publicly trusted)`;

/** Node's codes for a server certificate the client cannot verify. */
const TLS_TRUST =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_HAS_EXPIRED)$/;

/** The hub's CA certificate, or a SetupError that says which file could not be read. */
export function readCaFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new SetupError(
      `cannot read the CA file ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass the hub's CA certificate with --ca-file or ATOLL_CA_FILE`,
    );
  }
}

export interface Hub {
  /** The answer's body; a SetupError that says what to do when the hub refuses or cannot be reached. */
  call(method: string, path: string, body?: unknown): Promise<Any>;
  /** The answer's status and body, whatever the status; a SetupError only when the hub cannot be reached. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: Any }>;
}

/** The hub's HTTP API, at --hub or ATOLL_URL, as --token or ATOLL_TOKEN. */
export function hubOf(values: {
  hub?: string | undefined;
  token?: string | undefined;
  "ca-file"?: string | undefined;
}): Hub {
  const url = (values.hub ?? process.env.ATOLL_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const token = values.token ?? process.env.ATOLL_TOKEN;
  const caFile = values["ca-file"] ?? process.env.ATOLL_CA_FILE;
  const dispatcher = caFile ? new Agent({ connect: { ca: readCaFile(caFile) } }) : undefined;
  const request: Hub["request"] = async (method, path, body) => {
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(dispatcher ? { dispatcher } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
      const reason = cause?.message ?? (error as Error).message;
      throw new SetupError(
        TLS_TRUST.test(String(cause?.code))
          ? `the hub at ${url} answered with a certificate this machine does not trust (${reason}); pass the hub's CA certificate with --ca-file or ATOLL_CA_FILE (the demo writes it to .atoll/demo/hub.crt)`
          : `cannot reach the hub at ${url} (${reason}); set --hub or ATOLL_URL`,
      );
    }
    const text = await response.text();
    let answer: Any = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // Not JSON (a log, or an empty answer): the text is the answer.
    }
    if (response.status === 401 && !token)
      throw new SetupError(`the hub wants a token: pass --token or set ATOLL_TOKEN`);
    return { status: response.status, body: answer };
  };
  return {
    request,
    async call(method, path, body) {
      const { status, body: answer } = await request(method, path, body);
      if (status < 200 || status >= 300) {
        const reason = typeof answer === "object" && answer ? (answer.detail ?? answer.title ?? "") : "";
        throw new SetupError(`${method} ${path}: ${status} ${reason}`.trim());
      }
      return typeof answer === "string" && answer === "" ? {} : answer;
    },
  };
}

/** Rows as aligned columns, the first row being the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("   ")
        .trimEnd(),
    )
    .join("\n");
}
