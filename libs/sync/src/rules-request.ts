import { type Bus, retryWhileUnreachable } from "@atoll/bus";
import { type SyncRule, syncRulesReplyCodec } from "@atoll/contracts";
import type { Logger } from "@atoll/log";

/**
 * Asks the hub for this cluster's rules; undefined rules mean the built-in defaults. A hub that
 * does not answer yet (no responder, or none within timeoutMs: restarting, or a NATS server of
 * its cluster just died) is asked again with backoff rather than failing the agent's start, which
 * ended the agent and left its cluster silent; a refusal fails at once.
 */
export async function requestSyncRules(
  bus: Bus,
  cluster: string,
  logger: Logger,
  options: { timeoutMs?: number; patienceMs?: number } = {},
): Promise<SyncRule[]> {
  const answer = await retryWhileUnreachable(
    "asking the hub for this cluster's sync rules",
    () =>
      bus.nc.request(bus.names.syncRules(cluster), new Uint8Array(), { timeout: options.timeoutMs ?? 5000 }),
    logger,
    options.patienceMs,
  );
  const reply = syncRulesReplyCodec.decode(answer.data);
  if (reply.error) throw new Error(`the hub refused sync rules for "${cluster}": ${reply.error}`);
  return reply.rules;
}
