import { type Bus, clusterOfSubject } from "@atoll/bus";
import { create, SyncRulesReplySchema, syncRulesReplyCodec } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import { getSyncRules } from "@atoll/store";
import { rulesFromJson } from "@atoll/sync/rules";
import type postgres from "postgres";

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
