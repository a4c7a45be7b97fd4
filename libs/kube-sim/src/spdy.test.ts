import { Duplex, PassThrough } from "node:stream";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { SpdySession, type SpdyStream } from "./spdy.js";

/** The client half of a connection, writing frames by hand so each field is under test. */
function connection() {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const session = new SpdySession(Duplex.from({ readable: toServer, writable: fromServer }));
  let received = Buffer.alloc(0);
  fromServer.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  const frames = () => {
    const out: { control: boolean; type: number; flags: number; payload: Buffer }[] = [];
    for (let at = 0; at + 8 <= received.length; ) {
      const length = received.readUInt32BE(at + 4) & 0xffffff;
      out.push({
        control: (received[at]! & 0x80) !== 0,
        type: received.readUInt16BE(at + 2),
        flags: received[at + 4]!,
        payload: received.subarray(at + 8, at + 8 + length),
      });
      at += 8 + length;
    }
    return out;
  };
  return { session, send: (frame: Buffer) => toServer.write(frame), frames };
}

const header = (first: number, flags: number, length: number) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(first >>> 0, 0);
  head.writeUInt32BE(length, 4);
  head[4] = flags;
  return head;
};
const control = (type: number, flags: number, payload: Buffer) =>
  Buffer.concat([header((0x8003 << 16) | type, flags, payload.length), payload]);
const data = (stream: number, flags: number, payload: Buffer) =>
  Buffer.concat([header(stream, flags, payload.length), payload]);

/** A SYN_STREAM whose header block is compressed the way Go's spdy framer does it. */
function synStream(id: number, headers: Record<string, string>, dictionary: Buffer): Buffer {
  const parts = Object.entries(headers).flat();
  const block = Buffer.concat([
    Buffer.from([0, 0, 0, parts.length / 2]),
    ...parts.flatMap((text) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(Buffer.byteLength(text));
      return [length, Buffer.from(text)];
    }),
  ]);
  const compressed = zlib.deflateSync(block, { dictionary, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(id, 0);
  return control(1, 0, Buffer.concat([fixed, compressed]));
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("SPDY/3.1 server session", () => {
  it("answers a ping with the same frame", async () => {
    const { send, frames } = connection();
    send(control(6, 0, Buffer.from([0, 0, 0, 7])));
    await settle();
    expect(frames()).toEqual([{ control: true, type: 6, flags: 0, payload: Buffer.from([0, 0, 0, 7]) }]);
  });

  it("acknowledges a stream, hands over its headers and data, and half-closes on FIN", async () => {
    const { session, send, frames } = connection();
    const opened: SpdyStream[] = [];
    session.on("stream", (stream: SpdyStream) => {
      opened.push(stream);
      stream.pipe(stream);
    });
    send(synStream(1, { streamtype: "data", port: "80" }, SpdySession.headerDictionary));
    send(data(1, 0, Buffer.from("ping")));
    send(data(1, 1, Buffer.from("pong")));
    await settle();
    expect(opened).toHaveLength(1);
    expect(Object.fromEntries(opened[0]!.headers)).toEqual({ streamtype: "data", port: "80" });
    const [reply, ...echoed] = frames();
    expect(reply).toMatchObject({ control: true, type: 2 });
    expect(reply!.payload.readUInt32BE(0)).toBe(1);
    expect(Buffer.concat(echoed.map((f) => f.payload)).toString()).toBe("pingpong");
    expect(echoed.every((f) => !f.control)).toBe(true);
    expect(echoed.at(-1)?.flags).toBe(1);
  });

  it("resets data for a stream that was never opened, and a server-numbered stream", async () => {
    const { send, frames } = connection();
    send(data(5, 0, Buffer.from("lost")));
    send(synStream(2, {}, SpdySession.headerDictionary));
    await settle();
    const resets = frames().filter((f) => f.control && f.type === 3);
    expect(resets.map((f) => [f.payload.readUInt32BE(0), f.payload.readUInt32BE(4)])).toEqual([
      [5, 2],
      [2, 1],
    ]);
  });

  it("closes on a frame it cannot read instead of throwing", async () => {
    const { session, send } = connection();
    const closed = new Promise((resolve) => session.once("close", resolve));
    send(control(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.alloc(6), Buffer.from("not zlib")])));
    await expect(closed).resolves.toBeUndefined();
  });
});
