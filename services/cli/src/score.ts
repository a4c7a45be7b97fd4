import { parseArgs } from "node:util";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";

export const SCORE_USAGE = `atoll score history: health scores over time (0-100), as far as your grants reach
  atoll score history [--cluster C] [--since 24h] [--step 1h]                by cluster
  atoll score history --cluster C --namespace N [--since 7d]                 one namespace
  atoll score history --cluster C --namespace N --kind K --name X            one object, exact
  --by cluster|namespace|object chooses the grouping; --since reaches back 30d at most.
${HUB_USAGE}`;

export async function runScore(args: string[], print: (text: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      by: { type: "string" },
      cluster: { type: "string" },
      namespace: { type: "string" },
      kind: { type: "string" },
      name: { type: "string" },
      since: { type: "string" },
      step: { type: "string" },
    },
  });
  if (positionals[0] !== "history") return print(SCORE_USAGE);
  const query = new URLSearchParams();
  for (const key of ["by", "cluster", "namespace", "kind", "name", "since", "step"] as const)
    if (values[key]) query.set(key, values[key]);
  const { items } = await hubOf(values).call("GET", `/api/v1/insight/score/history?${query}`);
  const rows = (items as Any[]).flatMap((series) =>
    (series.points as Any[]).map((p) => [
      p.time,
      series.cluster,
      series.namespace ?? "",
      series.name ?? "",
      String(p.score),
    ]),
  );
  print(
    rows.length
      ? table([["TIME", "CLUSTER", "NAMESPACE", "NAME", "SCORE"], ...rows])
      : "no scores in that range",
  );
}
