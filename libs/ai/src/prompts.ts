import { readYamlMapping } from "@atoll/config";
import { FEATURES, type Prompts } from "./features.js";

export class PromptsError extends Error {
  readonly code = "INVALID_PROMPTS";
}

const KEYS = ["system", ...FEATURES];

/** An operator's prompts from a YAML file (ATOLL_AI_PROMPTS); a mistake stops the service with what to fix. */
export function readPrompts(path: string): Prompts {
  return readYamlMapping<Prompts>(path, {
    expected: `a mapping with any of ${KEYS.join(", ")}`,
    problemsOf: (parsed) =>
      Object.entries(parsed).flatMap(([key, value]) =>
        !KEYS.includes(key)
          ? [`unknown key "${key}"; the keys are ${KEYS.join(", ")}`]
          : typeof value !== "string" || !value.trim()
            ? [`${key} must be non-empty text`]
            : [],
      ),
    fail: (message) => new PromptsError(message),
  });
}
