import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";

/** Binary protobuf codec for one message type; what travels on the bus. */
export interface Codec<Desc extends DescMessage> {
  readonly schema: Desc;
  encode(message: MessageShape<Desc>): Uint8Array;
  decode(bytes: Uint8Array): MessageShape<Desc>;
}

export function codecFor<Desc extends DescMessage>(schema: Desc): Codec<Desc> {
  return {
    schema,
    encode: (message) => toBinary(schema, message),
    decode: (bytes) => fromBinary(schema, bytes),
  };
}
