import type { Bus } from "@atoll/bus";
import { type SyncRule, syncRulesReplyCodec } from "@atoll/contracts";

/** Asks the hub for this cluster's rules; undefined rules mean the built-in defaults. */
export async function requestSyncRules(bus: Bus, cluster: string, timeoutMs = 5000): Promise<SyncRule[]> {
  const answer = await bus.nc.request(bus.names.syncRules(cluster), new Uint8Array(), { timeout: timeoutMs });
  const reply = syncRulesReplyCodec.decode(answer.data);
  if (reply.error) throw new Error(`the hub refused sync rules for "${cluster}": ${reply.error}`);
  return reply.rules;
}
