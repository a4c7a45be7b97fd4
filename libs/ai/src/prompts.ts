import { readFileSync } from "node:fs";
import YAML from "yaml";
import { FEATURES, type Prompts } from "./features.js";

export class PromptsError extends Error {
  readonly code = "INVALID_PROMPTS";
}

const KEYS = ["system", ...FEATURES];

/** An operator's prompts from a YAML file (ATOLL_AI_PROMPTS); a mistake stops the service with what to fix. */
export function readPrompts(path: string): Prompts {
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(path, "utf8")) ?? {};
  } catch (error) {
    throw new PromptsError(`${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new PromptsError(`${path}: expected a mapping with any of ${KEYS.join(", ")}`);
  const problems = Object.entries(parsed).flatMap(([key, value]) =>
    !KEYS.includes(key)
      ? [`unknown key "${key}"; the keys are ${KEYS.join(", ")}`]
      : typeof value !== "string" || !value.trim()
        ? [`${key} must be non-empty text`]
        : [],
  );
  if (problems.length > 0) throw new PromptsError(`${path}: ${problems.join("; ")}`);
  return parsed as Prompts;
}
