#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runRole, runToken, TOKEN_USAGE } from "./access.js";
import { AUDIT_USAGE, runAudit } from "./audit.js";
import { CHECK_USAGE, runCheck } from "./check.js";
import { CLUSTER_USAGE, runCluster } from "./cluster.js";
import { DLQ_USAGE, runDeadLetters } from "./dlq.js";
import { SetupError } from "./infra.js";
import { KUBECONFIG_USAGE, runKubeconfig } from "./kubeconfig.js";
import { MCP_USAGE, runMcp } from "./mcp.js";
import { PLACEMENT_USAGE, runPlacement } from "./placement.js";
import { runScore, SCORE_USAGE } from "./score.js";
import { runSearch, SEARCH_USAGE } from "./search.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const USAGE = `usage: atoll <command> [flags]

commands:
  demo [--port N] [--clusters N] [--churn N] [--dir PATH]
      Start N simulated clusters (default 3), an agent for each, the indexer and the query
      service on port N (default 8080); print "ready: <url>" once everything is indexed.
  search QUERY [--mode keyword|sql|nl] [-o table|name|json] [--all]
      Search every cluster's index (see: atoll help search).
  cluster ...
      Manage the cluster registry (see: atoll cluster help).
  apply -f / delete -f / get bindings / describe binding NS/NAME
      Place workloads with Karmada policies (see: atoll help placement).
  token ... / role ...
      Manage API tokens and the roles they hold (see: atoll help token).
  audit [filters]
      Writes through the live gateway, and refused ones (see: atoll help audit).
  check -f FILE|DIR [-o text|json|sarif] [--fail-on SEVERITY] [--min-score N]
      Audit manifests offline with Atoll's rules, for CI (see: atoll help check).
  score history [--cluster C] [--namespace N] [--kind K --name X] [--since 24h]
      Health scores over time, by cluster, namespace or object (see: atoll help score).
  dlq list | show SEQ | replay SEQ
      Messages a consumer gave up on, with the reason; replay one after a fix (see: atoll help dlq).
  kubeconfig [--out FILE]
      A kubeconfig with a context per cluster through the gateway, and one over the index.
  mcp
      An MCP server on stdio for AI agents, as your token (see: atoll help mcp).
  --version
      Print the CLI's version.

environment:
  NATS_URL       NATS server to use (default nats://127.0.0.1:4222; started if absent)
  DATABASE_URL   PostgreSQL server to use (default postgres://postgres@127.0.0.1:5432/postgres)
`;

/** \`atoll help <topic>\` answers these. */
const HELP: Record<string, string> = {
  cluster: CLUSTER_USAGE,
  placement: PLACEMENT_USAGE,
  token: TOKEN_USAGE,
  role: TOKEN_USAGE,
  audit: AUDIT_USAGE,
  check: CHECK_USAGE,
  search: SEARCH_USAGE,
  kubeconfig: KUBECONFIG_USAGE,
  mcp: MCP_USAGE,
  dlq: DLQ_USAGE,
  score: SCORE_USAGE,
};

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new SetupError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  return n;
}

/** What went wrong, in words: never a stack trace. */
function userMessage(error: unknown): string {
  if (error instanceof SetupError) return error.message;
  const { code, path, message } = error as NodeJS.ErrnoException;
  if (code === "ENOENT" && path) return `cannot read ${path}: there is no such file`;
  if ((code === "EACCES" || code === "EISDIR") && path)
    return `cannot read ${path}: ${code === "EACCES" ? "permission denied" : "it is a directory"}`;
  return message || String(error);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "version") {
    console.log(`atoll ${VERSION}`);
    return;
  }
  if (command === "demo") {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: "string" },
        clusters: { type: "string" },
        churn: { type: "string" },
        dir: { type: "string" },
      },
    });
    // Loaded only here: the demo brings every service with it, which other commands need not wait for.
    const { runDemo } = await import("./demo.js");
    await runDemo({
      port: positiveInt("port", values.port, 8080),
      clusters: positiveInt("clusters", values.clusters, 3),
      churn: positiveInt("churn", values.churn, 2, 0),
      dir: values.dir ?? ".atoll/demo",
      databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    });
    return;
  }
  if (command === "cluster") {
    await runCluster(rest, (text) => console.log(text));
    return;
  }
  if (command === "apply" || command === "delete" || command === "get" || command === "describe") {
    await runPlacement(command, rest, (text) => console.log(text));
    return;
  }
  if (command === "kubeconfig") {
    await runKubeconfig(rest, (text) => console.log(text));
    return;
  }
  if (command === "audit") {
    await runAudit(rest, (text) => console.log(text));
    return;
  }
  if (command === "dlq") {
    await runDeadLetters(rest, (text) => console.log(text));
    return;
  }
  if (command === "mcp") {
    await runMcp(rest, VERSION);
    return;
  }
  if (command === "search") {
    await runSearch(rest, (text) => console.log(text));
    return;
  }
  if (command === "score") {
    await runScore(rest, (text) => console.log(text));
    return;
  }
  if (command === "check") {
    process.exitCode = runCheck(rest, (text) => console.log(text));
    return;
  }
  if (command === "token" || command === "role") {
    await (command === "token" ? runToken : runRole)(rest, (text) => console.log(text));
    return;
  }
  const topic = command === "help" ? HELP[rest[0] ?? ""] : undefined;
  console.log(topic ?? USAGE);
  process.exitCode = command === undefined || command === "help" || command === "--help" ? 0 : 2;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // Unknown flags and missing flag values are usage mistakes, not crashes: no stack trace.
  const code = String((error as NodeJS.ErrnoException).code);
  if (code.startsWith("ERR_PARSE_ARGS")) {
    const flag = /'(-[^']*)'/.exec((error as Error).message)?.[1];
    const what =
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag
        ? `atoll ${process.argv[2] ?? ""} has no flag ${flag}`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag
          ? `the flag ${flag.split(" ")[0]} needs a value (one that starts with "-" is written ${flag.split(" ")[0]}=<value>)`
          : code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
            ? `atoll ${process.argv[2] ?? ""} takes no such argument: ${/'([^']*)'/.exec((error as Error).message)?.[1] ?? ""}`
            : (error as Error).message;
    console.error(`error: ${what.replace(/\s+/g, " ")}; see: atoll help ${process.argv[2] ?? ""}`.trimEnd());
    process.exit(2);
  }
  console.error(`error: ${userMessage(error)}`);
  process.exit(1);
});
