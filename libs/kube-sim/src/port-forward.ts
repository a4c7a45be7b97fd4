import type { Duplex } from "node:stream";
import { SpdySession, type SpdyStream } from "./spdy.js";

/** The protocol kubectl asks for in X-Stream-Protocol-Version, and, prefixed, as a WebSocket subprotocol. */
export const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";
export const PORT_FORWARD_TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

export interface PortForwardTarget {
  namespace: string;
  pod: string;
  port: number;
}

/** Opens a connection to a pod's port, or rejects with what a kubelet would report. */
export type PortDialer = (target: PortForwardTarget) => Promise<Duplex>;

/**
 * Serves Kubernetes' port-forward protocol on a SPDY connection. For every forwarded local
 * connection the client opens two streams with the same requestid: "error", on which the server
 * reports a failure as text, and "data", which carries the bytes. Both close when the pod side does.
 */
export function servePortForward(
  transport: Duplex,
  pod: { namespace: string; pod: string },
  dial: PortDialer,
): SpdySession {
  const session = new SpdySession(transport);
  const waiting = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  session.on("stream", (stream: SpdyStream) => {
    stream.on("error", () => undefined);
    const requestId = stream.headers.get("requestid");
    const type = stream.headers.get("streamtype");
    const port = Number(stream.headers.get("port"));
    if (
      !requestId ||
      (type !== "error" && type !== "data") ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535
    ) {
      stream.reset();
      return;
    }
    const pair = waiting.get(requestId) ?? {};
    pair[type] = stream;
    if (!pair.error || !pair.data) {
      waiting.set(requestId, pair);
      return;
    }
    waiting.delete(requestId);
    forward(pair.error, pair.data, { ...pod, port }, dial);
  });
  session.on("close", () => waiting.clear());
  return session;
}

async function forward(
  errorStream: SpdyStream,
  dataStream: SpdyStream,
  target: PortForwardTarget,
  dial: PortDialer,
): Promise<void> {
  // The client half-closes the error stream at once; it only listens on it.
  errorStream.resume();
  const fail = (error: Error) => {
    if (errorStream.writableEnded) return;
    errorStream.end(
      `error forwarding port ${target.port} to pod ${target.namespace}/${target.pod}: ${error.message}`,
    );
    dataStream.end();
  };
  let connection: Duplex;
  try {
    connection = await dial(target);
  } catch (error) {
    fail(error as Error);
    return;
  }
  connection.on("error", fail);
  connection.on("close", () => {
    if (!errorStream.writableEnded) errorStream.end();
  });
  dataStream.on("close", () => connection.end());
  dataStream.pipe(connection);
  connection.pipe(dataStream);
}
