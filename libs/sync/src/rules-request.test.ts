import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import { create, SyncRuleSchema, SyncRulesReplySchema, syncRulesReplyCodec } from "@atoll/contracts";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestSyncRules } from "./rules-request.js";

describe("a pull agent asking the hub for its sync rules", () => {
  let bus: Bus;
  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "rules-request-test",
      prefix: `t${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await bus.close();
  });

  /** Answers the cluster's requests as the hub's registry does, from now on. */
  const answer = (reply: Parameters<typeof create<typeof SyncRulesReplySchema>>[1]) =>
    bus.nc.subscribe(bus.names.syncRules("late-hub"), {
      callback: (_error, msg) => {
        msg.respond(syncRulesReplyCodec.encode(create(SyncRulesReplySchema, reply)));
      },
    });

  it("asks again while the hub does not answer, instead of failing the agent's start", async () => {
    // Nothing answers for the first second, as while the hub restarts.
    let subscription: ReturnType<typeof answer> | undefined;
    const hubBack = setTimeout(() => {
      subscription = answer({
        cluster: "late-hub",
        rules: [create(SyncRuleSchema, { apiVersion: "v1", resource: "pods" })],
      });
    }, 1000);
    try {
      const rules = await requestSyncRules(bus, "late-hub", silentLogger(), { timeoutMs: 300 });
      expect(rules.map((r) => `${r.apiVersion}/${r.resource}`)).toEqual(["v1/pods"]);
    } finally {
      clearTimeout(hubBack);
      subscription?.unsubscribe();
    }
  });

  it("fails at once when the hub refuses, and after its patience when the hub never answers", async () => {
    const subscription = answer({
      cluster: "late-hub",
      error: 'cluster "late-hub" is not registered at the hub',
    });
    try {
      await expect(requestSyncRules(bus, "late-hub", silentLogger(), { timeoutMs: 300 })).rejects.toThrow(
        /not registered/,
      );
    } finally {
      subscription.unsubscribe();
    }
    await expect(
      requestSyncRules(bus, "late-hub", silentLogger(), { timeoutMs: 200, patienceMs: 600 }),
    ).rejects.toThrow();
  });
});
