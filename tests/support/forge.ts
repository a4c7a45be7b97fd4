import type { Bus } from "@atoll/bus";
import {
  create,
  type MessageInitShape,
  type ResourceEvent,
  ResourceEventBatchSchema,
  ResourceEventSchema,
  resourceBatchCodec,
} from "@atoll/contracts";
import { newSyncId } from "@atoll/kube";

/** An event as an agent would send it, stamped with a sync id of now unless the fields say otherwise. */
export const forgedEvent = (fields: MessageInitShape<typeof ResourceEventSchema>): ResourceEvent =>
  create(ResourceEventSchema, { version: "v1", syncId: newSyncId(), ...fields });

/**
 * Publishes a batch on a cluster's subject as a hostile or broken agent would: the batch may name
 * another cluster than its subject does (batchCluster).
 */
export function publishForged(
  bus: Bus,
  cluster: string,
  events: ResourceEvent[],
  msgId: string,
  batchCluster = cluster,
) {
  return bus.publish(
    bus.names.resources(cluster),
    resourceBatchCodec,
    create(ResourceEventBatchSchema, { cluster: batchCluster, agentId: "forger", events }),
    msgId,
  );
}
