import { isDeepStrictEqual } from "node:util";

export type Handler = (
  // biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
  input: any,
  // biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
  expected: any,
  // biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
  vector: any,
) => string | undefined | Promise<string | undefined>;

/** undefined when equal, else what differs, for the failure line. */
export function same(actual: unknown, expected: unknown): string | undefined {
  return isDeepStrictEqual(actual, expected)
    ? undefined
    : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/** A vector's group is its id without the last -part: dynamic-scale-03 → dynamic-scale. */
export const groupOf = (id: string) => id.replace(/-[^-]+$/, "");

export interface RunResult {
  passed: number;
  failures: string[];
}

/** Runs every vector through the handler of its group; an unknown group is a failure. */
export async function runVectors(
  // biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
  vectors: any[],
  // biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
  handlersFor: (vector: any) => Handler | undefined,
): Promise<RunResult> {
  const failures: string[] = [];
  let passed = 0;
  for (const vector of vectors) {
    const id = String(vector.id ?? "?");
    const handler = handlersFor(vector);
    if (!handler) {
      failures.push(`${id}: no handler for group "${groupOf(id)}"`);
      continue;
    }
    let failure: string | undefined;
    try {
      failure = await handler(vector.input ?? vector, vector.expected, vector);
    } catch (error) {
      failure = `threw ${(error as Error).stack ?? error}`;
    }
    if (failure) failures.push(`${id}: ${failure}`);
    else passed += 1;
  }
  return { passed, failures };
}
