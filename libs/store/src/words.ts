/**
 * The words free-text search matches. One tokenizer serves the index (objectWords, written by the
 * indexer into resources.object_words and into the OpenSearch mirror) and the queries (textQuery),
 * so both sides split and fold text the same way: lower case, anything but letters and digits
 * separates words.
 */
export function wordsOf(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** Longer tokens are blobs (base64, certificates), never typed into a search box. */
const MAX_WORD_LENGTH = 100;
/** Keeps a large ConfigMap's vector far below Postgres's 1 MB tsvector limit. */
const MAX_WORDS = 5_000;
/** Timestamps add a unique word per object and second, and are searched with age: instead. */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

/**
 * The distinct words of an object's string values: images, commands, env values, node names,
 * status reasons and messages, event messages. Keys are not words (so "image" does not match
 * every pod), and metadata is left out: its name, namespace, labels and annotations are indexed
 * from their own columns, and its uids and timestamps would only bloat the index.
 */
export function objectWords(object: Record<string, unknown>): string[] {
  const words = new Set<string>();
  const collect = (value: unknown): void => {
    if (words.size >= MAX_WORDS) return;
    if (typeof value === "string") {
      if (TIMESTAMP.test(value)) return;
      for (const word of wordsOf(value)) if (word.length <= MAX_WORD_LENGTH) words.add(word);
    } else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(collect);
  };
  for (const [key, value] of Object.entries(object)) if (key !== "metadata") collect(value);
  return [...words].slice(0, MAX_WORDS);
}
