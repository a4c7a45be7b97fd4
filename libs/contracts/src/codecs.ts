import { codecFor } from "./codec.js";
import { PlacementRequestSchema } from "./gen/atoll/v1/placement_pb.js";
import { WorkSchema, WorkStatusSchema } from "./gen/atoll/v1/work_pb.js";

/** Codecs for the placement subjects, shared by the scheduler and the agents. */
export const placementCodec = codecFor(PlacementRequestSchema);
export const workCodec = codecFor(WorkSchema);
export const workStatusCodec = codecFor(WorkStatusSchema);
