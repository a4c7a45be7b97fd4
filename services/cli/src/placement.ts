import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { manifestFiles } from "./files.js";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf } from "./hub.js";
import { SetupError } from "./infra.js";
import { checkOutput, OUTPUT_USAGE, printListing } from "./output.js";

export const PLACEMENT_USAGE = `atoll apply -f FILE|DIR [-n NAMESPACE]     apply Karmada policies and resource templates
atoll delete -f FILE|DIR [-n NAMESPACE]    delete them; deleted templates leave every cluster
atoll get bindings [-o FORMAT]             where each template went; ${OUTPUT_USAGE}
atoll describe binding NAMESPACE/NAME      the decision, why other clusters were not chosen, status per cluster
${HUB_USAGE}`;

/** The YAML of a file, or of every manifest file in a directory, as one stream. */
const readDocuments = (path: string): string =>
  manifestFiles(path)
    .map((file) => readFileSync(file, "utf8"))
    .join("\n---\n");

export async function runPlacement(
  command: string,
  args: string[],
  print: (text: string) => void,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      filename: { type: "string", short: "f", multiple: true },
      namespace: { type: "string", short: "n" },
      output: { type: "string", short: "o", default: "table" },
    },
  });
  checkOutput(values.output!);
  const hub = hubOf(values);
  if (command === "apply" || command === "delete") {
    if (!values.filename?.length) throw new SetupError(`${command} needs -f FILE or -f DIR`);
    const documents = values.filename.map(readDocuments).join("\n---\n");
    const query = values.namespace ? `?namespace=${encodeURIComponent(values.namespace)}` : "";
    const answer = await hub.call("POST", `/api/v1/${command}${query}`, { documents });
    for (const line of answer.results as string[]) print(line);
    return;
  }
  const [what, target] = positionals;
  if (command === "get" && (what === "bindings" || what === "binding")) {
    // Every page, as kubectl lists in chunks.
    const items: Any[] = [];
    for (let token: string | null = ""; token !== null; ) {
      const page = (await hub.call(
        "GET",
        `/api/v1/bindings?limit=500${token ? `&continue=${encodeURIComponent(token)}` : ""}`,
      )) as { items: Any[]; continue: string | null };
      items.push(...page.items);
      token = page.continue;
    }
    const clusters = (b: Any) =>
      b.clusters.map((c: Any) => (c.replicas === undefined ? c.name : `${c.name}:${c.replicas}`)).join(",") ||
      "<none>";
    printListing(
      values.output!,
      {
        header: ["NAMESPACE", "NAME", "POLICY", "SCHEDULED", "CLUSTERS"],
        rows: items.map((b) => [b.namespace, b.name, b.policy, b.condition, clusters(b)]),
        wideHeader: ["TEMPLATE", "NOT CHOSEN"],
        wideRows: items.map((b) => [
          `${b.kind}/${b.templateName}`,
          Object.keys(b.rejected ?? {}).join(",") || "-",
        ]),
        objects: items,
        names: items.map((b) => `binding/${b.namespace}/${b.name}`),
      },
      print,
    );
    return;
  }
  if (command === "describe" && what === "binding" && target?.includes("/")) {
    const [namespace, name] = target.split("/");
    const b = await hub.call(
      "GET",
      `/api/v1/bindings/${encodeURIComponent(namespace!)}/${encodeURIComponent(name!)}`,
    );
    print(`Name:        ${b.namespace}/${b.name}`);
    print(`Template:    ${b.apiVersion} ${b.kind} ${b.templateName}`);
    print(`Policy:      ${b.policy}`);
    print(`Scheduled:   ${b.condition}: ${b.message}`);
    if (b.observedAffinity) print(`Affinity:    ${b.observedAffinity}`);
    const unknown = b.readiness.unknownClusters as string[];
    print(
      `Readiness:   ${b.readiness.readyReplicas}/${b.readiness.desiredReplicas} replicas ready${unknown.length ? ` (not counting ${unknown.join(", ")}: not heard from)` : ""}`,
    );
    print("Clusters:");
    const replicas = new Map((b.clusters as Any[]).map((c) => [c.name, c.replicas]));
    for (const c of b.clusterStatus as Any[]) {
      const share = replicas.get(c.cluster);
      print(
        `  ${c.cluster}${share === undefined ? "" : ` (${share} replicas)`}: ${c.placed ? "" : "being removed, "}${c.applied ? "applied" : "not applied"}, ${c.health}${c.reason ? ` (${c.reason})` : ""}`,
      );
    }
    const rejected = Object.entries(b.rejected as Record<string, string>);
    if (rejected.length) {
      print("Not chosen:");
      for (const [cluster, reason] of rejected) print(`  ${cluster}: ${reason}`);
    }
    return;
  }
  print(PLACEMENT_USAGE);
  throw new SetupError(`unknown command: ${[command, ...positionals].join(" ")}`);
}
