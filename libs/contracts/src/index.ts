import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";

export {
  create,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
  toJson,
} from "@bufbuild/protobuf";
export * from "./gen/atoll/v1/heartbeat_pb.js";
export * from "./gen/atoll/v1/placement_pb.js";
export * from "./gen/atoll/v1/proxy_pb.js";
export * from "./gen/atoll/v1/resources_pb.js";
export * from "./gen/atoll/v1/sync_pb.js";
export * from "./gen/atoll/v1/work_pb.js";

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
