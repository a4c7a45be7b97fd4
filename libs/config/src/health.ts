import http from "node:http";

/**
 * /healthz (the process is up) and /readyz (its dependencies answer) for processes that have no
 * HTTP API of their own, so Kubernetes probes can watch them. Port 0 turns it off.
 */
export function serveHealth(
  port: number,
  /** Throws when not ready; an object it resolves to is added to the ready answer as detail. */
  ready: () => Promise<unknown>,
): { close(): Promise<void> } {
  if (port === 0) return { close: async () => {} };
  const server = http.createServer((request, response) => {
    const answer = (status: number, body: object) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return answer(200, { status: "ok" });
    if (request.url === "/readyz")
      return void ready().then(
        (detail) => answer(200, { status: "ready", ...(typeof detail === "object" ? detail : {}) }),
        (error: Error) => answer(503, { status: "not ready", reason: error.message }),
      );
    answer(404, { status: "not found", detail: "use /healthz or /readyz" });
  });
  server.listen(port);
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}
