import { type ChatModelConfig, complete } from "@atoll/ai";
import { COLUMNS, type Query, QueryError } from "./ir.js";
import { type NaturalContext, parseNaturalQuery } from "./natural.js";
import { parseSqlQuery } from "./sql.js";

/** An OpenAI-compatible chat completions endpoint. */
export type LanguageModelConfig = ChatModelConfig;

export interface NaturalAnswer {
  query: Query;
  /** Which translator produced the query. */
  engine: "rules" | "model";
  unmatched: string[];
  /** Set when the model was asked and failed; the rules answered instead. */
  warning?: string;
}

const INSTRUCTIONS = `You translate questions about Kubernetes objects into one SQL SELECT over a single table named resources.
Columns: ${COLUMNS.join(", ")}, labels['key'], annotations['key'], and JSON paths into the object such as status.phase, spec.replicas or spec.template.spec.containers[*].image.
Virtual columns: status = 'Reason' (a phase, a pod reason or a container's waiting or terminated reason, e.g. CrashLoopBackOff), age < '1h' or age > '7d'. Free-text search: search('words').
Kinds are singular and capitalised (Pod, Deployment, DaemonSet). Allowed: =, !=, <, <=, >, >=, IN, NOT IN, LIKE, ILIKE, IS NULL, BETWEEN, AND, OR, NOT, ORDER BY, LIMIT, OFFSET, and SELECT col, COUNT(*) ... GROUP BY col.
Answer with the SQL statement only, with no explanation.`;

/** Takes the statement out of a reply that may wrap it in a Markdown code fence. */
function sqlOfReply(reply: string): string {
  const fenced = /```(?:sql)?\s*([\s\S]*?)```/i.exec(reply);
  return (fenced ? fenced[1]! : reply).trim();
}

export async function askLanguageModel(
  question: string,
  config: LanguageModelConfig,
  fetchImpl: typeof fetch = fetch,
): Promise<Query> {
  const content = await complete(
    [
      { role: "system", content: INSTRUCTIONS },
      { role: "user", content: question },
    ],
    config,
    fetchImpl,
  );
  // The model's SQL passes the same parser and allow-list as a user's.
  return parseSqlQuery(sqlOfReply(content));
}

/**
 * The rules answer first. When they leave words unexplained and a model is configured, the model
 * gets the question; if it fails in any way, the rules' answer stands, with a warning saying why.
 */
export async function answerNaturalQuestion(
  question: string,
  options: { context?: NaturalContext; model?: LanguageModelConfig; fetchImpl?: typeof fetch },
): Promise<NaturalAnswer> {
  const rules = parseNaturalQuery(question, options.context);
  if (!options.model || rules.unmatched.length === 0) return { ...rules, engine: "rules" };
  try {
    const query = await askLanguageModel(question, options.model, options.fetchImpl);
    return { query, engine: "model", unmatched: [] };
  } catch (error) {
    const reason =
      error instanceof QueryError ? `its SQL was rejected: ${error.message}` : (error as Error).message;
    return {
      ...rules,
      engine: "rules",
      warning: `the language model could not translate the question (${reason}); the built-in rules answered`,
    };
  }
}
