import { type ChatModelConfig, complete } from "@atoll/ai";
import { type Query, QueryError } from "@atoll/ir";
import { MODEL_INSTRUCTIONS, queryOfModelReply } from "./model-query.js";
import { type NaturalContext, parseNaturalQuery } from "./natural.js";

/** An OpenAI-compatible chat completions endpoint. */
export type LanguageModelConfig = ChatModelConfig;

export interface NaturalAnswer {
  query: Query;
  /** Which translator produced the query. */
  engine: "rules" | "model";
  /** Words no rule explains that the fleet holds, searched for as free text. */
  searched: string[];
  /** Words no rule explains and the fleet does not hold, left out of the query. */
  ignored: string[];
  /** Set when the model was asked and failed; the rules answered instead. */
  warning?: string;
}

/** How many leftover words of one question are looked up in the index. */
const MAX_WORD_LOOKUPS = 8;

/**
 * Asks the model for the question's query in the IR's JSON (never SQL text) and checks it against
 * the IR's schema, the query bounds and the names the asker can see.
 */
export async function askLanguageModel(
  question: string,
  config: LanguageModelConfig,
  fetchImpl: typeof fetch = fetch,
  visible: { clusters?: readonly string[]; namespaces?: readonly string[] } = {},
): Promise<Query> {
  const content = await complete(
    [
      { role: "system", content: MODEL_INSTRUCTIONS },
      { role: "user", content: question },
    ],
    config,
    fetchImpl,
  );
  return queryOfModelReply(content, visible);
}

/**
 * The rules answer first. When they leave words unexplained and a model is configured, the model
 * gets the question; if it fails in any way, the rules' answer stands, with a warning saying why.
 */
export async function answerNaturalQuestion(
  question: string,
  options: {
    context?: NaturalContext;
    /**
     * Whether the index holds a word, as far as the asker may see: a leftover word the fleet holds
     * is a name or value to search for, any other is ignored. Without it, every leftover is searched.
     */
    indexHolds?: (word: string) => Promise<boolean>;
    model?: LanguageModelConfig;
    fetchImpl?: typeof fetch;
  },
): Promise<NaturalAnswer> {
  let rules = parseNaturalQuery(question, options.context);
  if (options.indexHolds && rules.searched.length > 0) {
    const indexHolds = options.indexHolds;
    // A question has few leftover words; beyond a handful they are not worth a lookup each. The
    // lookups are independent, so they run together.
    const words = rules.searched.slice(0, MAX_WORD_LOOKUPS);
    const held = await Promise.all(words.map((word) => indexHolds(word)));
    const knownWords = new Set(words.filter((_, i) => held[i]));
    rules = parseNaturalQuery(question, { ...options.context, knownWords });
  }
  if (!options.model || rules.searched.length + rules.ignored.length === 0)
    return { ...rules, engine: "rules" };
  try {
    const query = await askLanguageModel(question, options.model, options.fetchImpl, options.context);
    return { query, engine: "model", searched: [], ignored: [] };
  } catch (error) {
    const reason =
      error instanceof QueryError ? `its query was rejected: ${error.message}` : (error as Error).message;
    return {
      ...rules,
      engine: "rules",
      warning: `the language model could not translate the question (${reason}); the built-in rules answered`,
    };
  }
}
