import { clusterOfSubject } from "@atoll/bus";
import { EventType, type ResourceEventBatch } from "@atoll/contracts";
import { depthExceeds, SYNC_ID } from "@atoll/kube";
import { type IndexOp, storableJson } from "@atoll/store";

/**
 * How far ahead of the hub's clock a sync id may be. Sync ids order lists and deletions, so one
 * from the future would outvote every honest list until then; agents' clocks are NTP-synced.
 */
export const MAX_SYNC_ID_AHEAD_MS = 5 * 60_000;
/** Deeper objects are refused: no Kubernetes kind nests nearly this deep, and rules recurse. */
export const MAX_OBJECT_DEPTH = 100;

const decoder = new TextDecoder();

/**
 * Why a batch cannot be indexed, or undefined. A batch must name the cluster its subject names:
 * NATS permissions bind an agent to its subjects, and this binds the payload to them too.
 */
export function invalidBatchReason(
  batch: ResourceEventBatch,
  subject: string,
  now = Date.now(),
): string | undefined {
  const subjectCluster = clusterOfSubject(subject);
  if (batch.cluster !== subjectCluster) {
    return `batch names cluster "${batch.cluster}" but arrived on ${subject} (cluster "${subjectCluster}")`;
  }
  for (const [i, event] of batch.events.entries()) {
    const isObject = event.type === EventType.ADDED || event.type === EventType.MODIFIED;
    if (event.type === EventType.UNSPECIFIED) return `event ${i} has no type`;
    if (event.type !== EventType.BOOKMARK) {
      const time = SYNC_ID.exec(event.syncId)?.[1];
      if (time === undefined) return `event ${i} has no valid sync id: "${event.syncId.slice(0, 40)}"`;
      const ahead = Number(time) - now;
      if (ahead > MAX_SYNC_ID_AHEAD_MS)
        return `event ${i} has a sync id ${Math.round(ahead / 1000)} s ahead of the hub's clock; check the agent's clock`;
    }
    if ((isObject || event.type === EventType.DELETED) && event.uid === "") return `event ${i} has no uid`;
    if (isObject && (event.object.length === 0 || event.object[0] !== 0x7b))
      return `event ${i} carries no JSON object`;
    if (
      !isObject &&
      event.type !== EventType.DELETED &&
      event.type !== EventType.BOOKMARK &&
      event.type !== EventType.EPOCH_END &&
      event.resource === ""
    ) {
      return `sync marker ${i} names no resource`;
    }
  }
  return undefined;
}

/** What a batch asks of the index, in order. */
export function batchToOps(batch: ResourceEventBatch): IndexOp[] {
  const ops: IndexOp[] = [];
  for (const event of batch.events) {
    switch (event.type) {
      case EventType.ADDED:
      case EventType.MODIFIED:
        ops.push({
          op: "upsert",
          row: {
            cluster: batch.cluster,
            uid: event.uid,
            apiGroup: event.group,
            apiVersion: event.version,
            kind: event.kind,
            resource: event.resource,
            namespace: event.namespace,
            name: event.name,
            resourceVersion: event.resourceVersion,
            syncId: event.syncId,
            objectJson: storableJson(decoder.decode(event.object)),
          },
        });
        break;
      case EventType.DELETED:
        ops.push({
          op: "delete",
          cluster: batch.cluster,
          uid: event.uid,
          resourceVersion: event.resourceVersion,
          syncId: event.syncId,
        });
        break;
      case EventType.SYNC_END:
        // A reflector's list covers its namespace only, when it has one.
        ops.push({
          op: "sweep",
          cluster: batch.cluster,
          apiGroup: event.group,
          resource: event.resource,
          ...(event.namespace ? { namespace: event.namespace } : {}),
          syncId: event.syncId,
        });
        break;
      case EventType.EPOCH_END:
        ops.push({ op: "sweep", cluster: batch.cluster, syncId: event.syncId });
        break;
      default:
        break;
    }
  }
  return ops;
}

/** An event's object is not one JSON object; the message is at fault, and no retry will help. */
export class InvalidObjectError extends Error {
  override readonly name = "InvalidObjectError";
}

/**
 * Parses every upserted object, so that the rules can read it and, before its text goes into a
 * statement, to prove the text is exactly one JSON object and cannot reshape its neighbours.
 */
export function parseObjects(ops: readonly IndexOp[]): Map<IndexOp, Record<string, unknown>> {
  const objects = new Map<IndexOp, Record<string, unknown>>();
  for (const op of ops) {
    if (op.op !== "upsert") continue;
    let object: unknown;
    try {
      object = JSON.parse(op.row.objectJson);
    } catch (error) {
      throw new InvalidObjectError(`object ${op.row.uid} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof object !== "object" || object === null || Array.isArray(object))
      throw new InvalidObjectError(`object ${op.row.uid} is not a JSON object`);
    if (depthExceeds(object, MAX_OBJECT_DEPTH))
      throw new InvalidObjectError(`object ${op.row.uid} nests deeper than ${MAX_OBJECT_DEPTH} levels`);
    objects.set(op, object as Record<string, unknown>);
  }
  return objects;
}
