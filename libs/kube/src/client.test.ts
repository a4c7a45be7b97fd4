import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:tls";
import { generate } from "selfsigned";
import { afterEach, describe, expect, it } from "vitest";
import { KubeClient, readBody } from "./client.js";
import { tokenKubeconfig } from "./kubeconfig.js";

// Connections are pooled only over TLS, as every real API server serves.
const tls = await generate([{ name: "commonName", value: "127.0.0.1" }], {
  keyType: "ec",
  curve: "P-256",
  extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
});

/**
 * An API server that answers the first request on each connection and drops the connection when
 * a second one arrives on it, as an idle timeout racing a reused connection does.
 */
async function droppingServer(answerFirst = true): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer({ key: tls.private, cert: tls.cert }, (socket) => {
    connections++;
    let requests = 0;
    socket.on("data", (data) => {
      for (const _ of data.toString().matchAll(/\r\n\r\n/g)) {
        if (++requests === 1 && answerFirst)
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
        else socket.destroy();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, connections: () => connections };
}

describe("KubeClient", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  const clientFor = (s: Server) =>
    KubeClient.fromKubeconfig(
      tokenKubeconfig({
        name: "c",
        server: `https://127.0.0.1:${(s.address() as AddressInfo).port}`,
        caCert: tls.cert,
        token: "t",
      }),
    );

  it("sends a request again when its pooled connection was closed under it", async () => {
    const dropping = await droppingServer();
    server = dropping.server;
    const client = clientFor(server);
    expect(await readBody(await client.stream({ path: "/version" }))).toBe("ok");
    expect(await readBody(await client.stream({ path: "/version" }))).toBe("ok");
    expect(dropping.connections()).toBe(2);
  });

  it("does not send again a request whose own fresh connection failed", async () => {
    const dropping = await droppingServer(false);
    server = dropping.server;
    await expect(clientFor(server).stream({ path: "/version" })).rejects.toThrow(/socket hang up/);
    expect(dropping.connections()).toBe(1);
  });
});
