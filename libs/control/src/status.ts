import { type Bus, isUnreachable } from "@atoll/bus";
import { ManifestState, type WorkStatus, workStatusCodec } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import { databaseUnavailable, recordWorkReports, storableJson } from "@atoll/store";
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
    // Recorded set-based, a batch a transaction.
    maxBatch: 256,
    validate: (s: WorkStatus, subject) =>
      !s.workName.includes("/")
        ? "a work status names its work as <namespace>/<binding>"
        : subject !== bus.names.workStatus(s.cluster)
          ? `a status for cluster ${s.cluster} arrived on ${subject}`
          : undefined,
    transient: (error) => databaseUnavailable(error) || isUnreachable(error),
    handler: async (deliveries) => {
      // Every report is read before any is recorded, so an unreadable one changes nothing.
      const reports = deliveries.map(({ data }) => ({ data, manifests: data.manifests.map(manifestView) }));
      const recorded = await recordWorkReports(
        sql,
        reports.map(({ data, manifests }) => {
          const slash = data.workName.indexOf("/");
          return {
            cluster: data.cluster,
            namespace: data.workName.slice(0, slash),
            name: data.workName.slice(slash + 1),
            generation: Number(data.generation),
            applied: data.manifests.every(
              (m) => m.state === ManifestState.APPLIED || m.state === ManifestState.DELETED,
            ),
            manifests,
          };
        }),
      );
      for (const [i, { data }] of reports.entries())
        if (!recorded[i])
          logger.debug({ cluster: data.cluster, work: data.workName }, "ignored a status for an older work");
    },
  });
}

/** A report's manifest carries a status that is not JSON; no retry will make it readable. */
class UnreadableStatusError extends Error {
  override readonly name = "UnreadableStatusError";
}

/** A manifest's state as the hub stores it, its member object's status as JSON jsonb can hold. */
function manifestView(m: WorkStatus["manifests"][number]) {
  let status: unknown;
  if (m.status.length) {
    try {
      status = JSON.parse(storableJson(decoder.decode(m.status)));
    } catch (error) {
      throw new UnreadableStatusError(
        `the status of ${m.kind} ${m.namespace}/${m.name} is not JSON: ${(error as Error).message}`,
      );
    }
  }
  return {
    apiVersion: m.apiVersion,
    kind: m.kind,
    namespace: m.namespace,
    name: m.name,
    state: ManifestState[m.state].toLowerCase(),
    message: m.message,
    healthy: m.healthy,
    ...(m.status.length ? { status } : {}),
  };
}
