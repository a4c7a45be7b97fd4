import { codecFor } from "./codec.js";
import { ClusterHeartbeatSchema } from "./gen/atoll/v1/heartbeat_pb.js";
import { PlacementRequestSchema } from "./gen/atoll/v1/placement_pb.js";
import { ResourceEventBatchSchema } from "./gen/atoll/v1/resources_pb.js";
import { SyncRulesReplySchema } from "./gen/atoll/v1/sync_pb.js";
import { WorkSchema, WorkStatusSchema } from "./gen/atoll/v1/work_pb.js";

/** Codecs for the placement subjects, shared by the scheduler and the agents. */
export const placementCodec = codecFor(PlacementRequestSchema);
export const workCodec = codecFor(WorkSchema);
export const workStatusCodec = codecFor(WorkStatusSchema);
/** Codecs for what agents send the hub (events, heartbeats) and the rules the hub answers with. */
export const resourceBatchCodec = codecFor(ResourceEventBatchSchema);
export const heartbeatCodec = codecFor(ClusterHeartbeatSchema);
export const syncRulesReplyCodec = codecFor(SyncRulesReplySchema);
