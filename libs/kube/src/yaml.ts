import { Piscina } from "piscina";
import {
  type Document,
  isAlias,
  isCollection,
  isPair,
  Lexer,
  type LineCounter,
  type Node,
  parseAllDocuments,
} from "yaml";

/**
 * What one YAML text may hold before Atoll reads it. Kubernetes manifests are shallow and never
 * use collections as keys; hostile YAML uses depth, complex keys and aliases to make a parser
 * spend seconds or memory on a few kilobytes.
 */
export interface YamlLimits {
  /** Bytes of text (UTF-8). */
  maxBytes: number;
  /** Nesting of collections, flow or block. */
  maxDepth: number;
  /** Alias nodes (`*name`), which expand to what their anchor holds. */
  maxAliases: number;
  /** Anchors (`&name`): the parser's cost grows with the square of their number. */
  maxAnchors: number;
  /** Nodes in all documents together. */
  maxNodes: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = {
  maxBytes: 5 * 1024 * 1024,
  maxDepth: 64,
  maxAliases: 100,
  maxAnchors: 100,
  maxNodes: 1_000_000,
};

/** YAML refused before it was expanded, naming the limit it broke; callers answer 4xx. */
export class YamlLimitError extends Error {
  readonly code = "YAML_LIMIT";
  constructor(
    readonly limit: keyof YamlLimits | "complexKeys" | "time",
    message: string,
  ) {
    super(message);
  }
}

/** One document of a YAML stream: its value, or why it could not be read. */
export type YamlDocument = { value: unknown; error?: undefined } | { value?: undefined; error: string };

/** The first check, before any other work on the text: its size. */
function checkBytes(text: string, limits: YamlLimits): void {
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes)
    throw new YamlLimitError(
      "maxBytes",
      `the YAML takes ${bytes} bytes, more than the ${limits.maxBytes} allowed`,
    );
}

/** The checks that need only the tokens: size, flow nesting, anchors, aliases and explicit keys. */
function checkTokens(text: string, limits: YamlLimits): void {
  checkBytes(text, limits);
  let depth = 0;
  let aliases = 0;
  let anchors = 0;
  // "- - - x" nests a block sequence per dash on one line; the parser's cost grows with the
  // square of that, so it is counted here, before parsing.
  let lineIndicators = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "\n") lineIndicators = 0;
    else if (token === "-" || token === "?") {
      lineIndicators += 1;
      if (lineIndicators > limits.maxDepth)
        throw new YamlLimitError(
          "maxDepth",
          `the YAML nests collections more than ${limits.maxDepth} deep; Kubernetes objects never need that`,
        );
    }
    if (token === "[" || token === "{") {
      depth += 1;
      if (depth > limits.maxDepth)
        throw new YamlLimitError(
          "maxDepth",
          `the YAML nests collections more than ${limits.maxDepth} deep; Kubernetes objects never need that`,
        );
    } else if (token === "]" || token === "}") depth = Math.max(0, depth - 1);
    else if (token.startsWith("&")) {
      anchors += 1;
      if (anchors > limits.maxAnchors)
        throw new YamlLimitError(
          "maxAnchors",
          `the YAML defines more than ${limits.maxAnchors} anchors (&name)`,
        );
    } else if (token.startsWith("*")) {
      aliases += 1;
      if (aliases > limits.maxAliases)
        throw new YamlLimitError(
          "maxAliases",
          `the YAML uses more than ${limits.maxAliases} aliases (*name)`,
        );
    }
  }
}

/** The checks on the composed tree, before any value is built: depth, size and complex keys. */
function checkTree(root: Node | null, limits: YamlLimits, counted: { nodes: number }): void {
  const stack: { node: Node | null; depth: number }[] = [{ node: root, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!node || isAlias(node)) continue;
    counted.nodes += 1;
    if (counted.nodes > limits.maxNodes)
      throw new YamlLimitError("maxNodes", `the YAML holds more than ${limits.maxNodes} values`);
    if (!isCollection(node)) continue;
    if (depth + 1 > limits.maxDepth)
      throw new YamlLimitError(
        "maxDepth",
        `the YAML nests collections more than ${limits.maxDepth} deep; Kubernetes objects never need that`,
      );
    for (const item of node.items) {
      if (isPair(item)) {
        if (isCollection(item.key))
          throw new YamlLimitError(
            "complexKeys",
            "the YAML uses a list or a map as a key (a complex key), which Kubernetes objects never do; use plain keys",
          );
        stack.push({ node: item.key as Node | null, depth: depth + 1 });
        stack.push({ node: item.value as Node | null, depth: depth + 1 });
      } else stack.push({ node: item as Node | null, depth: depth + 1 });
    }
  }
}

/**
 * A YAML stream composed into documents within limits, checked on the tokens and then on the
 * tree; nothing is expanded yet. For a caller that needs the documents themselves (their line
 * numbers, say); readYamlDocuments gives their values.
 */
export function composeYaml(
  text: string,
  options: { lineCounter?: LineCounter } = {},
  limits: Partial<YamlLimits> = {},
): Document.Parsed[] {
  const bounds = { ...DEFAULT_YAML_LIMITS, ...limits };
  checkTokens(text, bounds);
  const documents = parseAllDocuments(text, options);
  const list = Array.isArray(documents) ? documents : [];
  const counted = { nodes: 0 };
  for (const document of list) checkTree(document.contents as Node | null, bounds, counted);
  return list;
}

/**
 * Reads a YAML stream within limits, checked before anything is expanded: first the tokens,
 * then the composed tree, and only then each document's value. A limit broken anywhere throws
 * YamlLimitError; a document that is not valid YAML is returned with its error, so a caller can
 * report every document at once.
 */
export function readYamlDocuments(text: string, limits: Partial<YamlLimits> = {}): YamlDocument[] {
  const bounds = { ...DEFAULT_YAML_LIMITS, ...limits };
  return composeYaml(text, {}, bounds).map((document) => {
    if (document.errors.length) return { error: document.errors[0]!.message };
    try {
      return { value: document.toJS({ maxAliasCount: bounds.maxAliases }) };
    } catch (error) {
      // The library refuses an alias that expands too far (a billion-laughs document) this way.
      if (error instanceof ReferenceError && /alias/i.test(error.message))
        throw new YamlLimitError(
          "maxAliases",
          "the YAML's aliases expand too far; write the values out instead",
        );
      return { error: (error as Error).message };
    }
  });
}

/** One YAML document within limits; a syntax error throws a plain Error naming it. */
export function readYaml(text: string, limits: Partial<YamlLimits> = {}): unknown {
  return onlyDocument(readYamlDocuments(text, limits));
}

/**
 * YAML larger than this is read on a worker thread: a megabyte takes the parser over 100 ms,
 * which the event loop of a service answering other requests cannot give.
 */
export const OFF_LOOP_BYTES = 32 * 1024;
/** The longest a worker may spend on one text before it is stopped and the text refused. */
export const YAML_READ_TIMEOUT_MS = 5_000;

let pool: Piscina | undefined;

/**
 * readYamlDocuments without holding up the event loop: small texts are read at once, larger ones
 * on a worker thread, within YAML_READ_TIMEOUT_MS.
 */
export async function readYamlDocumentsOffLoop(
  text: string,
  limits: Partial<YamlLimits> = {},
): Promise<YamlDocument[]> {
  if (text.length < OFF_LOOP_BYTES) return readYamlDocuments(text, limits);
  // The size limit is checked here too, so an oversized text is never copied to a worker.
  checkBytes(text, { ...DEFAULT_YAML_LIMITS, ...limits });
  // From src (under vitest) and from dist alike, this names the compiled worker in dist.
  pool ??= new Piscina({
    filename: new URL("../dist/yaml-worker.js", import.meta.url).href,
    maxThreads: 2,
    idleTimeout: 30_000,
  });
  let answer: YamlWorkerAnswer;
  try {
    answer = await pool.run({ text, limits }, { signal: AbortSignal.timeout(YAML_READ_TIMEOUT_MS) });
  } catch (error) {
    if ((error as Error).name === "AbortError" || (error as Error).name === "TimeoutError")
      throw new YamlLimitError(
        "time",
        `reading the YAML took longer than ${YAML_READ_TIMEOUT_MS / 1000} s; send a smaller or simpler text`,
      );
    throw error;
  }
  if ("limit" in answer) throw new YamlLimitError(answer.limit, answer.message);
  return answer.documents;
}

/** readYaml without holding up the event loop (see readYamlDocumentsOffLoop). */
export async function readYamlOffLoop(text: string, limits: Partial<YamlLimits> = {}): Promise<unknown> {
  return onlyDocument(await readYamlDocumentsOffLoop(text, limits));
}

function onlyDocument(documents: YamlDocument[]): unknown {
  if (documents.length > 1) throw new Error("expected one YAML document, found several (separated by ---)");
  const [document] = documents;
  if (!document) return null;
  if (document.error !== undefined) throw new Error(`not valid YAML: ${document.error}`);
  return document.value;
}

/** What the YAML worker thread answers: the documents, or the limit the text went past. */
export type YamlWorkerAnswer =
  | { documents: ReturnType<typeof readYamlDocuments> }
  | { limit: YamlLimitError["limit"]; message: string };
