import { readFileSync } from "node:fs";

/**
 * The words of one language for what the plain-language reader knows, kept as data in
 * language/<code>.json so a phrase is added without touching the grammar. Phrases are regular
 * expressions; English ones match as whole words, case-insensitively.
 */
export interface LexiconFile {
  concepts: Record<string, string[]>;
  /** Words for a label key, by the key's last segment ("zone" is topology.kubernetes.io/zone). */
  labelKeys: Record<string, string[]>;
  /** Words for a label value ("后端" is backend). */
  labelValues?: Record<string, string[]>;
  /** Words for the fields an answer can be grouped by, besides label keys. */
  groupFields: Record<string, string[]>;
  /** Words for kinds beyond their Kubernetes names, with the kind ("" is any kind). */
  kinds?: Record<string, string>;
  negations: string[];
  /** Questions that look like a negation and are none: "有没有" asks whether there is any. */
  questionForms?: string[];
  disjunctions: string[];
  conjunctions: string[];
  /** Words that carry no meaning in a question, separated by spaces. */
  stopwords: string;
}

export const LANGUAGES = ["en", "zh"] as const;
export type Language = (typeof LANGUAGES)[number];

export function readLexicon(language: Language): LexiconFile {
  const url = new URL(`../language/${language}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as LexiconFile;
}

/** Phrases as one alternation, English ones bounded as words. */
export function alternation(language: Language, phrases: readonly string[]): string {
  const longestFirst = [...phrases].sort((a, b) => b.length - a.length);
  const body = longestFirst.map((p) => `(?:${p})`).join("|");
  return language === "en" ? `\\b(?:${body})(?![\\w-])` : `(?:${body})`;
}

export const LEXICONS: Record<Language, LexiconFile> = { en: readLexicon("en"), zh: readLexicon("zh") };

/** Every phrase of a table key in both languages, as one regular expression source. */
export function phrasesOf(pick: (lexicon: LexiconFile) => readonly string[] | undefined): string {
  return LANGUAGES.map((language) => pick(LEXICONS[language]) ?? [])
    .map((phrases, i) => (phrases.length ? alternation(LANGUAGES[i]!, phrases) : ""))
    .filter(Boolean)
    .join("|");
}
