/** Kubernetes label and field selectors: parsing and matching, shared by the sim and the hub. */

export type LabelOperator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

export interface FieldRequirement {
  /** Dot path into the object, e.g. "status.phase" or "metadata.name". */
  path: string;
  operator: "=" | "!=";
  value: string;
}

export class SelectorError extends Error {
  readonly code = "INVALID_SELECTOR";
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside a parenthesised value set. */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of input) {
    if (ch === "(") depth += 1;
    if (ch === ")") depth -= 1;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key) || key.length > 317) {
    throw new SelectorError(`invalid label key "${key}" in selector "${selector}"`);
  }
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) {
    throw new SelectorError(`invalid label value "${value}" in selector "${selector}"`);
  }
  return value;
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  return splitTopLevel(selector).map((part) => {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (set) {
      const values = set[3]!.split(",").map((v) => checkValue(v.trim(), selector));
      return { key: checkKey(set[1]!, selector), operator: set[2] as "in" | "notin", values };
    }
    const binary = /^([^!=<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(part);
    if (binary) {
      const op = binary[2]!;
      const operator: LabelOperator =
        op === "==" ? "=" : op === ">" ? "gt" : op === "<" ? "lt" : (op as "=" | "!=");
      if ((operator === "gt" || operator === "lt") && !/^-?\d+$/.test(binary[3]!)) {
        throw new SelectorError(`label selector "${part}" compares with a non-integer value`);
      }
      return { key: checkKey(binary[1]!, selector), operator, values: [checkValue(binary[3]!, selector)] };
    }
    const notExists = /^!\s*(\S+)$/.exec(part);
    if (notExists) return { key: checkKey(notExists[1]!, selector), operator: "!", values: [] };
    if (/^\S+$/.test(part)) return { key: checkKey(part, selector), operator: "exists", values: [] };
    throw new SelectorError(
      `cannot parse label selector "${selector}" near "${part}"; expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)`,
    );
  });
}

export function matchesLabels(
  labels: Record<string, string> | undefined,
  requirements: LabelRequirement[],
): boolean {
  const l = labels ?? {};
  return requirements.every(({ key, operator, values }) => {
    const has = Object.hasOwn(l, key);
    const value = l[key];
    switch (operator) {
      case "=":
      case "in":
        return has && values.includes(value!);
      // Kubernetes semantics: != and notin also match objects without the label.
      case "!=":
      case "notin":
        return !has || !values.includes(value!);
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
        return has && /^-?\d+$/.test(value!) && Number(value) > Number(values[0]);
      case "lt":
        return has && /^-?\d+$/.test(value!) && Number(value) < Number(values[0]);
    }
    return false;
  });
}

export function parseFieldSelector(selector: string): FieldRequirement[] {
  return splitTopLevel(selector).map((part) => {
    const match = /^([A-Za-z0-9_.\-[\]]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!match) {
      throw new SelectorError(
        `cannot parse field selector "${selector}" near "${part}"; expected path=value or path!=value`,
      );
    }
    return { path: match[1]!, operator: match[2] === "!=" ? "!=" : "=", value: match[3]!.trim() };
  });
}

/** Reads a dot path; a missing field reads as "" as the API server does for field selectors. */
export function fieldValue(object: unknown, path: string): string {
  let current: unknown = object;
  for (const segment of path.split(".")) {
    if (current === null || typeof current !== "object") return "";
    current = (current as Record<string, unknown>)[segment];
  }
  if (current === undefined || current === null) return "";
  return typeof current === "object" ? JSON.stringify(current) : String(current);
}

export function matchesFields(object: unknown, requirements: FieldRequirement[]): boolean {
  return requirements.every(
    ({ path, operator, value }) => (fieldValue(object, path) === value) === (operator === "="),
  );
}

/** metav1.LabelSelectorRequirement. */
export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/** metav1.LabelSelector, as Deployments, PDBs, NetworkPolicies and Karmada policies write it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes qualified name: [prefix/]name, as label keys must be. */
export function validLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash < 0) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX.test(prefix) && NAME.test(key.slice(slash + 1));
}

/** A label value: empty, or a name of at most 63 characters. */
export function validLabelValue(value: string): boolean {
  return value === "" || NAME.test(value);
}

/** metav1.LabelSelector against a label set; a selector that is not valid matches nothing. */
export function labelSelectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  return labelSelectorMatcher(selector)(labels);
}

/**
 * A selector made into a test once, for matching it against many label sets (a placement against
 * every cluster of the fleet): its requirements are gathered and their keys checked only once.
 */
export function labelSelectorMatcher(
  selector: LabelSelector | undefined,
): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const requirements: LabelSelectorRequirement[] = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
      key,
      operator: "In" as const,
      values: [value],
    })),
    ...(selector.matchExpressions ?? []),
  ];
  if (requirements.some((r) => !validLabelKey(r.key))) return () => false;
  return (labels) => requirements.every((r) => requirementMatches(r, labels));
}

/** One selector requirement against a label set; an invalid key or operator matches nothing. */
export function requirementMatches(
  r: { key: string; operator: string; values?: string[] },
  labels: Record<string, string>,
): boolean {
  if (!validLabelKey(r.key)) return false;
  const has = Object.hasOwn(labels, r.key);
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return values.length > 0 && has && values.includes(labels[r.key]!);
    case "NotIn":
      return values.length > 0 && (!has || !values.includes(labels[r.key]!));
    case "Exists":
      return values.length === 0 && has;
    case "DoesNotExist":
      return values.length === 0 && !has;
    default:
      return false;
  }
}
