import { parseArgs } from "node:util";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";
import { SetupError } from "./infra.js";

export const DLQ_USAGE = `atoll dlq: messages a consumer gave up on, with the reason (admin of every cluster)
  atoll dlq list [--consumer NAME] [--after SEQ] [--limit N]
      Dead letters in order, and how many each consumer has (e.g. indexer-prod-1, scheduler).
  atoll dlq show SEQ
      One dead letter: its reason, where it was published, and the message decoded.
  atoll dlq replay SEQ
      Publishes it again where it first went, for its consumer to try once more (after a fix),
      and removes it from the dead letters.
${HUB_USAGE}`;

export async function runDeadLetters(args: string[], print: (text: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      consumer: { type: "string" },
      after: { type: "string" },
      limit: { type: "string" },
    },
  });
  const [action, seq] = positionals;
  const hub = hubOf(values);
  if (action === "list") {
    const query = new URLSearchParams();
    for (const key of ["consumer", "after", "limit"] as const) if (values[key]) query.set(key, values[key]);
    const { items, counts } = await hub.call("GET", `/api/v1/dead-letters?${query}`);
    print(
      table([
        ["SEQ", "TIME", "CONSUMER", "SUBJECT", "BYTES", "REASON"],
        ...items.map((d: Any) => [String(d.seq), d.time, d.consumer, d.subject, String(d.bytes), d.reason]),
      ]),
    );
    const totals = Object.entries(counts as Record<string, number>);
    print(
      totals.length
        ? `\n${table([["CONSUMER", "DEAD LETTERS"], ...totals.map(([c, n]) => [c, String(n)])])}`
        : "\nno dead letters",
    );
    return;
  }
  if ((action === "show" || action === "replay") && seq) {
    const path = `/api/v1/dead-letters/${encodeURIComponent(seq)}`;
    if (action === "show") {
      print(JSON.stringify(await hub.call("GET", path), null, 2));
      return;
    }
    const { replayed } = await hub.call("POST", `${path}/replay`);
    print(`replayed dead letter ${replayed.seq} onto ${replayed.subject} for ${replayed.consumer}`);
    return;
  }
  throw new SetupError(DLQ_USAGE);
}
