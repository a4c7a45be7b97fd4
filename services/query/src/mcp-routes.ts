import { can } from "@atoll/access";
import { type ApiCaller, createAtollMcpServer } from "@atoll/mcp";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpProblem } from "./problem.js";

/** A tool call's arguments plus the JSON-RPC envelope: apply's 1 MiB of YAML, escaped. */
const MCP_BODY_LIMIT = 4 * 1024 * 1024;

const VERSION = "0.1.0";

/**
 * POST /mcp: the MCP server over streamable HTTP, one stateless exchange per request. The request
 * passed authentication like any other; each tool call is then handed to the API's own routes
 * with the caller's Authorization header, so the same grants decide it and the audit names the
 * same caller.
 */
export function mcpRoutes(app: FastifyInstance): void {
  const callAs =
    (request: FastifyRequest): ApiCaller =>
    async ({ method, path, body }) => {
      const response = await app.inject({
        method,
        url: path,
        headers: {
          accept: "application/json",
          ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      let parsed: unknown = response.body;
      if ((response.headers["content-type"] ?? "").toString().includes("json"))
        try {
          parsed = response.json();
        } catch {
          // Not JSON after all: the text is the answer.
        }
      return { status: response.statusCode, body: parsed };
    };

  app.post("/mcp", { bodyLimit: MCP_BODY_LIMIT }, async (request, reply) => {
    const server = createAtollMcpServer({
      call: callAs(request),
      canWrite: can(request.principal, "write"),
      version: VERSION,
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    reply.hijack();
    reply.raw.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  });

  // Stateless: there is no session to stream from or to end.
  for (const method of ["GET", "DELETE"] as const)
    app.route({
      method,
      url: "/mcp",
      handler: async (_request, reply) => {
        void reply.header("allow", "POST");
        throw new HttpProblem(
          405,
          "METHOD_NOT_ALLOWED",
          "Method not allowed",
          "the MCP endpoint is stateless: send each JSON-RPC message with POST /mcp",
        );
      },
    });
}
