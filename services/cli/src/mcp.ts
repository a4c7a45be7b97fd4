import { parseArgs } from "node:util";
import { can, type Principal } from "@atoll/access";
import { createAtollMcpServer } from "@atoll/mcp";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { HUB_OPTIONS, HUB_USAGE, hubOf } from "./hub.js";

export const MCP_USAGE = `atoll mcp: an MCP server on stdin and stdout, for AI agents on this machine
  Every tool calls the hub's API with your token, so it reads and writes exactly what you may.
  Configure your MCP client to run:  atoll mcp --hub https://hub.example:8443 --token atoll_...
${HUB_USAGE}`;

/**
 * Serves MCP over stdio until the client closes stdin. stdout carries only the protocol; what a
 * person should read goes to stderr.
 */
export async function runMcp(args: string[], version: string): Promise<void> {
  const { values } = parseArgs({ args, options: HUB_OPTIONS });
  const hub = hubOf(values);
  // Checked before serving: a wrong hub or token is the user's to fix, not each tool call's.
  const principal = (await hub.call("GET", "/api/v1/whoami")) as Principal;
  const server = createAtollMcpServer({
    call: ({ method, path, body }) => hub.request(method, path, body),
    canWrite: can(principal, "write"),
    version,
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  await server.connect(transport);
  process.stderr.write(`atoll mcp: serving as ${principal.name} (role ${principal.role})\n`);
  process.stdin.on("end", () => void server.close());
  await closed;
}
