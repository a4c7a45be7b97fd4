import { until } from "@atoll/devkit";
import type { KubeSim } from "@atoll/kube-sim";
import type postgres from "postgres";
import type { TestHub } from "./hub.js";

/** `count` ConfigMap templates in default, named `<label>-<n>` from `from`, carrying `<label>: "yes"`. */
export const labelledConfigMaps = (label: string, count: number, from = 0) =>
  Array.from(
    { length: count },
    (_, i) => `
apiVersion: v1
kind: ConfigMap
metadata: { name: ${label}-${from + i}, namespace: default, labels: { ${label}: "yes" } }
data: { n: "${from + i}" }
`,
  ).join("---");

/** A ClusterPropagationPolicy that places every ConfigMap carrying `<label>: "yes"` on every cluster. */
export const everywherePolicy = (name: string, label: string) => `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: ${name} }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, labelSelector: { matchLabels: { ${label}: "yes" } } }]
  placement: {}
`;

/** How many ConfigMaps carrying the label the hub has placed on a sim's default namespace. */
export const placedOn = (sim: KubeSim, label: string) =>
  sim.store
    .list(sim.store.findType("", "v1", "configmaps")!, "default")
    .filter(
      ({ object }) => (object as { metadata: { labels?: Record<string, string> } }).metadata.labels?.[label],
    ).length;

/**
 * Waits until every work is on the bus (the outbox is empty), then answers how many messages the work stream holds:
 * a work relayed after a failover must not be there twice.
 */
export async function workMessagesOnceSent(hub: TestHub, sql: postgres.Sql): Promise<number> {
  await until(
    async () => (await sql`select count(*)::int as n from work_sends`)[0]?.n === 0,
    "every work on the bus",
    30_000,
    250,
  );
  return (await hub.bus.jsm.streams.info(hub.bus.names.streams.work)).state.messages;
}
