import { parseArgs } from "node:util";
import { annotated, humanAge } from "@atoll/kube";
import YAML from "yaml";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";
import { SetupError } from "./infra.js";
import { checkOutput, OUTPUT_USAGE, printListing } from "./output.js";

export const SEARCH_USAGE = `atoll search QUERY [flags]: search every cluster's index
  --mode keyword|sql|nl    how QUERY is read (default keyword; sql when it starts with SELECT)
  ${OUTPUT_USAGE}
  --limit N                objects per page (default 50, at most 1000)
  --all                    follow every page
examples:
  atoll search 'kind:Pod status:CrashLoopBackOff'
  atoll search --mode nl 'pods not running in payments'
  atoll search "SELECT kind, COUNT(*) FROM resources GROUP BY kind"
${HUB_USAGE}`;

const MODES = ["keyword", "sql", "nl"] as const;

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
  const output = values.output!;
  checkOutput(output);
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

  if (mode === "nl" && (output === "table" || output === "wide")) {
    print(`# read as: ${page.sql}`);
    if (page.interpretation?.searched?.length)
      print(`# searched as words: ${page.interpretation.searched.join(" ")}`);
    if (page.interpretation?.ignored?.length)
      print(`# not understood, left out: ${page.interpretation.ignored.join(" ")}`);
    if (page.interpretation?.warning) print(`# ${page.interpretation.warning}`);
  }
  for (const note of (page.notes ?? []) as string[])
    if (output === "table" || output === "wide") print(`# ${note}`);
  if (page.aggregations) {
    if (output === "json" || output === "yaml") {
      print(
        output === "json"
          ? JSON.stringify(page.aggregations, null, 2)
          : YAML.stringify(page.aggregations).trimEnd(),
      );
      return;
    }
    const keys = Object.keys(page.aggregations[0]?.key ?? {});
    print(
      table([
        [...keys.map((k) => k.toUpperCase()), "COUNT"],
        ...page.aggregations.map((a: Any) => [...keys.map((k) => String(a.key[k] ?? "")), String(a.count)]),
      ]),
    );
    return;
  }
  if (items.length === 0 && (output === "table" || output === "wide")) {
    print("No objects found.");
    return;
  }
  const now = Date.now();
  printListing(
    output,
    {
      header: ["CLUSTER", "KIND", "NAMESPACE", "NAME", "AGE"],
      rows: items.map((i) => [
        i.cluster,
        i.kind,
        i.namespace || "-",
        i.name,
        humanAge(i.object?.metadata?.creationTimestamp, now),
      ]),
      wideHeader: ["APIVERSION", "STATUS", "NODE"],
      wideRows: items.map((i) => [
        i.apiVersion,
        String(i.object?.status?.reason ?? i.object?.status?.phase ?? "-"),
        String(i.object?.spec?.nodeName ?? "-"),
      ]),
      objects: items.map(annotated),
      names: items.map((i) => `${i.cluster}/${i.kind}/${i.namespace ? `${i.namespace}/` : ""}${i.name}`),
    },
    print,
  );
  if (next && (output === "table" || output === "wide")) {
    const total = page.totalIsEstimate ? `about ${page.total}` : String(page.total);
    print(`# ${items.length} of ${total}; --all for every page`);
  }
}
