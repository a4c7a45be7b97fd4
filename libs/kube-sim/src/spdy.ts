import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import zlib from "node:zlib";

/**
 * The server half of SPDY/3.1, as much as Kubernetes' stream protocols use: the client opens
 * streams with headers, both sides send data and half-close, and pings are answered. Flow control
 * is not enforced (kubectl's client does not enforce it either) and the server never opens streams.
 */

const VERSION = 3;
const FLAG_FIN = 0x01;

const FrameType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

/** RST_STREAM status codes this server sends. */
const RstStatus = { protocolError: 1, invalidStream: 2, cancel: 5 } as const;

/**
 * The zlib dictionary SPDY/3 header blocks are compressed with (draft-mbelshe-httpbis-spdy-00
 * §2.6.10.1): length-prefixed common header words followed by common values.
 */
const HEADER_DICTIONARY = Buffer.concat([
  ...(
    "options|head|post|put|delete|trace|accept|accept-charset|accept-encoding|accept-language|" +
    "accept-ranges|age|allow|authorization|cache-control|connection|content-base|" +
    "content-encoding|content-language|content-length|content-location|content-md5|" +
    "content-range|content-type|date|etag|expect|expires|from|host|if-match|" +
    "if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|location|" +
    "max-forwards|pragma|proxy-authenticate|proxy-authorization|range|referer|retry-after|" +
    "server|te|trailer|transfer-encoding|upgrade|user-agent|vary|via|warning|" +
    "www-authenticate|method|get|status|200 OK|version|HTTP/1.1|url|public|set-cookie|" +
    "keep-alive|origin"
  )
    .split("|")
    .flatMap((word) => [uint32(word.length), Buffer.from(word, "latin1")]),
  Buffer.from(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
      "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request" +
      "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented" +
      "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 " +
      "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif," +
      "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=" +
      "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    "latin1",
  ),
]);

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

/**
 * One zlib stream per direction lives as long as the connection, so each header block is a
 * continuation of the last; this runs blocks through it one at a time, each ending in a sync flush.
 */
class HeaderCodec {
  private readonly stream: zlib.Inflate | zlib.Deflate;
  private chunks: Buffer[] = [];

  constructor(kind: "inflate" | "deflate") {
    this.stream =
      kind === "inflate"
        ? zlib.createInflate({ dictionary: HEADER_DICTIONARY })
        : zlib.createDeflate({ dictionary: HEADER_DICTIONARY });
    this.stream.on("data", (chunk: Buffer) => this.chunks.push(chunk));
  }

  transform(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      this.stream.once("error", failed);
      this.stream.write(block);
      this.stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.stream.off("error", failed);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.stream.destroy();
  }
}

function decodeHeaderBlock(block: Buffer): Map<string, string> {
  const headers = new Map<string, string>();
  let offset = 4;
  const read = () => {
    const length = block.readUInt32BE(offset);
    const text = block.toString("utf8", offset + 4, offset + 4 + length);
    offset += 4 + length;
    return text;
  };
  for (let count = block.readUInt32BE(0); count > 0; count--) {
    const name = read().toLowerCase();
    headers.set(name, read());
  }
  return headers;
}

function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers);
  return Buffer.concat([
    uint32(entries.length),
    ...entries.flatMap(([name, value]) => {
      const [n, v] = [Buffer.from(name.toLowerCase()), Buffer.from(value)];
      return [uint32(n.length), n, uint32(v.length), v];
    }),
  ]);
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(payload.length, 4);
  head[4] = flags;
  return Buffer.concat([head, payload]);
}

function dataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE(payload.length, 4);
  head[4] = flags;
  return Buffer.concat([head, payload]);
}

/** A stream the client opened: readable is what the client sends, writable goes back to it. */
export class SpdyStream extends Duplex {
  constructor(
    readonly id: number,
    readonly headers: ReadonlyMap<string, string>,
    private readonly session: SpdySession,
  ) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.session.send(() => dataFrame(this.id, 0, chunk)).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.session.send(() => dataFrame(this.id, FLAG_FIN, Buffer.alloc(0))).then(() => done(), done);
  }

  /** Abandons the stream, telling the client with RST_STREAM. */
  reset(): void {
    this.session.resetStream(this.id, RstStatus.cancel);
  }
}

/**
 * A SPDY/3.1 connection seen from the server. Emits "stream" for every stream the client opens,
 * after acknowledging it with SYN_REPLY, and "close" when the transport goes away.
 */
export class SpdySession extends EventEmitter {
  static readonly headerDictionary = HEADER_DICTIONARY;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflater = new HeaderCodec("inflate");
  private readonly deflater = new HeaderCodec("deflate");
  /** Frames are handled in order even though header blocks decompress asynchronously. */
  private incoming: Promise<void> = Promise.resolve();
  private outgoing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly transport: Duplex) {
    super();
    transport.on("data", (chunk: Buffer) => this.receive(chunk));
    transport.on("end", () => this.close());
    transport.on("close", () => this.close());
    transport.on("error", () => this.close());
  }

  /** Queues a frame behind every frame before it; the builder runs in turn, so it may compress. */
  send(frame: () => Buffer | Promise<Buffer>): Promise<void> {
    const sent = this.outgoing.then(async () => {
      if (this.closed) throw new Error("the SPDY connection is closed");
      const bytes = await frame();
      await new Promise<void>((resolve, reject) =>
        this.transport.write(bytes, (error) => (error ? reject(error) : resolve())),
      );
    });
    this.outgoing = sent.catch(() => undefined);
    return sent;
  }

  resetStream(id: number, statusCode: number): void {
    const payload = Buffer.concat([uint32(id & 0x7fffffff), uint32(statusCode)]);
    this.send(() => controlFrame(FrameType.rstStream, 0, payload)).catch(() => undefined);
    const stream = this.streams.get(id);
    this.streams.delete(id);
    stream?.destroy();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    this.inflater.close();
    this.deflater.close();
    this.transport.destroy();
    this.emit("close");
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 8) {
      const length = this.buffered.readUInt32BE(4) & 0xffffff;
      if (this.buffered.length < 8 + length) break;
      const frame = this.buffered.subarray(0, 8 + length);
      this.buffered = this.buffered.subarray(8 + length);
      this.incoming = this.incoming.then(() => this.handle(frame)).catch(() => this.close());
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const flags = frame[4]!;
    const payload = frame.subarray(8);
    if ((frame[0]! & 0x80) === 0) return this.handleData(frame.readUInt32BE(0) & 0x7fffffff, flags, payload);
    const type = frame.readUInt16BE(2);
    switch (type) {
      case FrameType.synStream:
        return this.handleSynStream(flags, payload);
      case FrameType.rstStream: {
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        this.streams.get(id)?.destroy();
        this.streams.delete(id);
        return;
      }
      case FrameType.ping:
        // A ping is answered with the same frame.
        await this.send(() => frame);
        return;
      case FrameType.goAway:
        this.close();
        return;
      case FrameType.headers:
        // Headers after the first carry nothing the stream protocols use, but they share the
        // compression context, so they must still be read through it.
        await this.inflater.transform(payload.subarray(4));
        return;
      default:
        // SETTINGS and WINDOW_UPDATE tune flow control, which this server does not enforce.
        return;
    }
  }

  private async handleSynStream(flags: number, payload: Buffer): Promise<void> {
    const id = payload.readUInt32BE(0) & 0x7fffffff;
    const headers = decodeHeaderBlock(await this.inflater.transform(payload.subarray(10)));
    if (id % 2 === 0 || this.streams.has(id)) {
      this.resetStream(id, RstStatus.protocolError);
      return;
    }
    const stream = new SpdyStream(id, headers, this);
    this.streams.set(id, stream);
    stream.on("close", () => this.streams.delete(id));
    await this.send(async () =>
      controlFrame(
        FrameType.synReply,
        0,
        Buffer.concat([uint32(id), await this.deflater.transform(encodeHeaderBlock({}))]),
      ),
    );
    if (flags & FLAG_FIN) stream.push(null);
    this.emit("stream", stream);
  }

  private handleData(id: number, flags: number, payload: Buffer): void {
    const stream = this.streams.get(id);
    if (!stream) {
      this.resetStream(id, RstStatus.invalidStream);
      return;
    }
    if (payload.length) stream.push(payload);
    if (flags & FLAG_FIN) stream.push(null);
  }
}
