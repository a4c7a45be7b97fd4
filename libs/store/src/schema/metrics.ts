import { doublePrecision, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Fleet figures recorded every minute for dashboards: object counts per cluster and kind, open
 * issues per cluster and severity, health scores per cluster and namespace.
 */
export const metricSnapshots = pgTable(
  "metric_snapshots",
  {
    time: timestamp("time", { withTimezone: true }).notNull().defaultNow(),
    /** objects, issues or health. */
    metric: text("metric").notNull(),
    cluster: text("cluster").notNull(),
    namespace: text("namespace").notNull().default(""),
    kind: text("kind").notNull().default(""),
    severity: text("severity").notNull().default(""),
    value: doublePrecision("value").notNull(),
  },
  (t) => [index("metric_snapshots_time").on(t.metric, t.time)],
);
