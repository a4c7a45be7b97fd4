import type { Bus } from "@atoll/bus";
import { ManifestState, type WorkStatus, workStatusCodec } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import { dataErrorReason, recordWorkStatus, storableJson } from "@atoll/store";
import type postgres from "postgres";

const decoder = new TextDecoder();

/** What the agents report about their works, recorded on the works and their bindings. */
export async function recordWorkStatuses(
  sql: postgres.Sql,
  bus: Bus,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  return await bus.consume({
    stream: bus.names.streams.workStatus,
    durable: "work-status",
    filterSubject: bus.names.all("wstat"),
    codec: workStatusCodec,
    maxBatch: 64,
    validate: (s: WorkStatus, subject) =>
      !s.workName.includes("/")
        ? "a work status names its work as <namespace>/<binding>"
        : subject !== bus.names.workStatus(s.cluster)
          ? `a status for cluster ${s.cluster} arrived on ${subject}`
          : unreadableStatus(s),
    messageFault: dataErrorReason,
    handler: async (deliveries) => {
      for (const { data } of deliveries) {
        const slash = data.workName.indexOf("/");
        const manifests = data.manifests.map((m) => ({
          apiVersion: m.apiVersion,
          kind: m.kind,
          namespace: m.namespace,
          name: m.name,
          state: ManifestState[m.state].toLowerCase(),
          message: m.message,
          healthy: m.healthy,
          ...(m.status.length ? { status: memberStatus(m.status) } : {}),
        }));
        const applied = data.manifests.every(
          (m) => m.state === ManifestState.APPLIED || m.state === ManifestState.DELETED,
        );
        const recorded = await recordWorkStatus(sql, {
          cluster: data.cluster,
          namespace: data.workName.slice(0, slash),
          name: data.workName.slice(slash + 1),
          generation: Number(data.generation),
          applied,
          manifests,
        });
        if (!recorded)
          logger.debug({ cluster: data.cluster, work: data.workName }, "ignored a status for an older work");
      }
    },
  });
}

/** A member object's status as the hub stores it: JSON that jsonb can hold. */
function memberStatus(bytes: Uint8Array): unknown {
  return JSON.parse(storableJson(decoder.decode(bytes)));
}

function unreadableStatus(status: WorkStatus): string | undefined {
  for (const manifest of status.manifests) {
    if (manifest.status.length === 0) continue;
    try {
      memberStatus(manifest.status);
    } catch (error) {
      return `the status of ${manifest.kind} ${manifest.namespace}/${manifest.name} is not JSON: ${(error as Error).message}`;
    }
  }
  return undefined;
}
