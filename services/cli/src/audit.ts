import { parseArgs } from "node:util";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";

export const AUDIT_USAGE = `atoll audit [filters]: writes through the live gateway, newest first (admin)
  --user NAME --cluster C --verb V --namespace NS --resource R    exact matches
  --failed | --succeeded                                           refused (code >= 400) or not
  --since 2026-11-01T00:00:00Z --until ...                         time range
  --limit N (default 50)
${HUB_USAGE}`;

const FILTERS = ["user", "cluster", "verb", "namespace", "resource", "since", "until", "limit"] as const;

export async function runAudit(args: string[], print: (text: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...HUB_OPTIONS,
      ...Object.fromEntries(FILTERS.map((f) => [f, { type: "string" as const }])),
      failed: { type: "boolean" },
      succeeded: { type: "boolean" },
    },
  });
  const query = new URLSearchParams({ limit: "50" });
  for (const filter of FILTERS) {
    const value = values[filter as keyof typeof values];
    if (typeof value === "string") query.set(filter, value);
  }
  if (values.failed) query.set("outcome", "failed");
  if (values.succeeded) query.set("outcome", "succeeded");
  const { items } = await hubOf(values).call("GET", `/api/v1/gateway/audit?${query}`);
  print(
    table([
      ["TIME", "USER", "CLUSTER", "VERB", "RESOURCE", "NAMESPACE", "NAME", "CODE"],
      ...items.map((e: Any) => [
        new Date(e.at).toISOString(),
        e.user,
        e.cluster,
        e.verb,
        e.resource || "-",
        e.namespace || "-",
        e.name || "-",
        String(e.code),
      ]),
    ]),
  );
}
