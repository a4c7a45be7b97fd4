import { parseArgs } from "node:util";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";
import { SetupError } from "./infra.js";

export const SEARCH_USAGE = `atoll search QUERY [flags]: search every cluster's index
  --mode keyword|sql|nl    how QUERY is read (default keyword; sql when it starts with SELECT)
  -o table|name|json       aligned columns (default), cluster/kind/namespace/name, or the objects as JSON
  --limit N                objects per page (default 50, at most 1000)
  --all                    follow every page
examples:
  atoll search 'kind:Pod status:CrashLoopBackOff'
  atoll search --mode nl 'pods not running in payments'
  atoll search "SELECT kind, COUNT(*) FROM resources GROUP BY kind"
${HUB_USAGE}`;

const MODES = ["keyword", "sql", "nl"] as const;
const OUTPUTS = ["table", "name", "json"] as const;

/** How long ago, as kubectl's AGE column shows it. */
function age(created: string | undefined, now: number): string {
  if (!created) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export async function runSearch(args: string[], print: (text: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      mode: { type: "string" },
      output: { type: "string", short: "o", default: "table" },
      limit: { type: "string", default: "50" },
      all: { type: "boolean" },
    },
  });
  const text = positionals.join(" ").trim();
  const mode = values.mode ?? (/^\s*select\s/i.test(text) ? "sql" : "keyword");
  if (!MODES.includes(mode as never)) throw new SetupError(`--mode ${mode}: use keyword, sql or nl`);
  const output = values.output as (typeof OUTPUTS)[number];
  if (!OUTPUTS.includes(output)) throw new SetupError(`-o ${values.output}: use table, name or json`);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new SetupError(`--limit ${values.limit}: give a whole number from 1 to 1000`);

  const hub = hubOf(values);
  const items: Any[] = [];
  let page: Any;
  let next: string | null = null;
  do {
    const query = new URLSearchParams({ q: text, mode, limit: String(limit) });
    if (next) query.set("continue", next);
    page = await hub.call("GET", `/api/v1/search?${query}`);
    items.push(...page.items);
    next = page.continue;
  } while (values.all && next);

  if (output === "json") {
    print(JSON.stringify(page.aggregations ? page.aggregations : items.map((i) => i.object), null, 2));
    return;
  }
  if (mode === "nl" && output === "table") {
    print(`# read as: ${page.sql}`);
    if (page.interpretation?.unmatched?.length)
      print(`# searched as words: ${page.interpretation.unmatched.join(" ")}`);
    if (page.interpretation?.warning) print(`# ${page.interpretation.warning}`);
  }
  if (page.aggregations) {
    const keys = Object.keys(page.aggregations[0]?.key ?? {});
    print(
      table([
        [...keys.map((k) => k.toUpperCase()), "COUNT"],
        ...page.aggregations.map((a: Any) => [...keys.map((k) => String(a.key[k] ?? "")), String(a.count)]),
      ]),
    );
    return;
  }
  if (output === "name") {
    for (const i of items) print(`${i.cluster}/${i.kind}/${i.namespace ? `${i.namespace}/` : ""}${i.name}`);
    return;
  }
  if (items.length === 0) {
    print("No objects found.");
    return;
  }
  const now = Date.now();
  print(
    table([
      ["CLUSTER", "KIND", "NAMESPACE", "NAME", "AGE"],
      ...items.map((i) => [
        i.cluster,
        i.kind,
        i.namespace || "-",
        i.name,
        age(i.object?.metadata?.creationTimestamp, now),
      ]),
    ]),
  );
  if (next) {
    const total = page.totalIsEstimate ? `about ${page.total}` : String(page.total);
    print(`# ${items.length} of ${total}; --all for every page`);
  }
}
