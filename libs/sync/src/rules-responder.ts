import type { Bus } from "@atoll/bus";
import {
  codecFor,
  create,
  fromJson,
  type JsonValue,
  type SyncRule,
  SyncRuleSchema,
  SyncRulesReplySchema,
  toJson,
} from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import { getSyncRules } from "@atoll/store";
import type postgres from "postgres";
import { clusterOfSubject } from "./ops.js";

export const syncRulesReplyCodec = codecFor(SyncRulesReplySchema);

/** Stored rules are SyncRule messages in their canonical JSON form. */
export function rulesFromJson(stored: unknown[]): SyncRule[] {
  return stored.map((rule) => fromJson(SyncRuleSchema, rule as JsonValue));
}

export function rulesToJson(rules: SyncRule[]): JsonValue[] {
  return rules.map((rule) => toJson(SyncRuleSchema, rule));
}

/**
 * Answers pull-mode agents asking for their sync rules on atoll.v1.rules.<cluster>. NATS
 * permissions let an agent ask only for its own cluster, so the subject is the identity.
 */
export function serveSyncRules(bus: Bus, sql: postgres.Sql, logger: Logger): { stop(): void } {
  const subscription = bus.nc.subscribe(bus.names.all("rules"), {
    queue: "rules",
    callback: (error, msg) => {
      if (error) {
        logger.warn({ err: error.message }, "sync rules subscription error");
        return;
      }
      const cluster = clusterOfSubject(msg.subject);
      getSyncRules(sql, cluster).then(
        (stored) => {
          const reply = stored
            ? create(SyncRulesReplySchema, { cluster, rules: rulesFromJson(stored) })
            : create(SyncRulesReplySchema, {
                cluster,
                error: `cluster "${cluster}" is not registered at the hub`,
              });
          msg.respond(syncRulesReplyCodec.encode(reply));
        },
        (failure: unknown) => {
          logger.error({ cluster, subject: msg.subject, err: failure }, "could not read sync rules");
          msg.respond(
            syncRulesReplyCodec.encode(
              create(SyncRulesReplySchema, {
                cluster,
                error: "the hub could not read its registry; retrying later",
              }),
            ),
          );
        },
      );
    },
  });
  return { stop: () => subscription.unsubscribe() };
}

/** Asks the hub for this cluster's rules; undefined rules mean the built-in defaults. */
export async function requestSyncRules(bus: Bus, cluster: string, timeoutMs = 5000): Promise<SyncRule[]> {
  const answer = await bus.nc.request(bus.names.syncRules(cluster), new Uint8Array(), { timeout: timeoutMs });
  const reply = syncRulesReplyCodec.decode(answer.data);
  if (reply.error) throw new Error(`the hub refused sync rules for "${cluster}": ${reply.error}`);
  return reply.rules;
}
