import { readFileSync } from "node:fs";
import YAML from "yaml";

/**
 * A YAML file that must hold a mapping, checked by problemsOf. Every mistake (an unreadable
 * file, bad YAML, something other than a mapping, what problemsOf finds) becomes one error made
 * by fail and led by the path, so the service reading it stops at start-up saying what to fix.
 */
export function readYamlMapping<T>(
  path: string,
  options: {
    /** What the file should hold, as in "a mapping with disabled, severity or exemptions". */
    expected: string;
    problemsOf(parsed: Record<string, unknown>): string[];
    fail(message: string): Error;
  },
): T {
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(path, "utf8")) ?? {};
  } catch (error) {
    throw options.fail(`${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw options.fail(`${path}: expected ${options.expected}`);
  const problems = options.problemsOf(parsed as Record<string, unknown>);
  if (problems.length > 0) throw options.fail(`${path}: ${problems.join("; ")}`);
  return parsed as T;
}
