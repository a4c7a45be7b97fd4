import { stringify } from "yaml";

/**
 * The most characters one tool answer holds (about 8,000 tokens): an agent's context is shared
 * with everything else it is doing, and a fleet can answer with far more than it can read.
 */
export const MAX_OUTPUT_CHARS = 32_000;

const render = (value: unknown) => stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });

/**
 * A tool's answer as YAML within MAX_OUTPUT_CHARS. With a list named, as many of its items as fit
 * are kept and the answer says how many were left out and how to see them; any answer still too
 * long is cut, and says so.
 */
export function bounded(
  value: Record<string, unknown>,
  list?: { key: string; narrow: string },
  limit = MAX_OUTPUT_CHARS,
): string {
  const whole = render(value);
  if (whole.length <= limit) return whole;
  const items = list && Array.isArray(value[list.key]) ? (value[list.key] as unknown[]) : undefined;
  if (list && items) {
    const shown = (count: number) =>
      render({
        ...value,
        [list.key]: items.slice(0, count),
        truncated: `${count} of ${items.length} ${list.key} shown, to stay within ${limit} characters; ${list.narrow}`,
      });
    // The longest prefix that fits, found by halving: items differ in size.
    let low = 0;
    let high = items.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (shown(middle).length <= limit) low = middle;
      else high = middle - 1;
    }
    const text = shown(low);
    if (text.length <= limit) return text;
  }
  const note = `\n# cut at ${limit} of ${whole.length} characters; ask for less (a narrower query, a lower limit)\n`;
  return whole.slice(0, limit - note.length) + note;
}
