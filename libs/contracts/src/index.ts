export {
  create,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
  toJson,
} from "@bufbuild/protobuf";
export { type Codec, codecFor } from "./codec.js";
export {
  heartbeatCodec,
  placementCodec,
  resourceBatchCodec,
  syncRulesReplyCodec,
  workCodec,
  workStatusCodec,
} from "./codecs.js";
export * from "./gen/atoll/v1/heartbeat_pb.js";
export * from "./gen/atoll/v1/placement_pb.js";
export * from "./gen/atoll/v1/proxy_pb.js";
export * from "./gen/atoll/v1/resources_pb.js";
export * from "./gen/atoll/v1/sync_pb.js";
export * from "./gen/atoll/v1/work_pb.js";
