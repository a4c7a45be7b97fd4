import { parseQuantity } from "@atoll/kube";
import {
  AUDIT_RULES,
  type AuditRule,
  CATEGORIES,
  type Category,
  type CustomRuleDefinition,
  type InsightConfig,
  type Subject,
  type Target,
} from "./audit.js";
import type { Obj } from "./objects.js";

/** A rule written as a JSON Schema over its target, as Polaris custom checks are. */
export class SchemaError extends Error {
  readonly code = "INVALID_CUSTOM_RULE";
}

const TYPES: Record<string, (v: unknown) => boolean> = {
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  null: (v) => v === null,
};

/** `{{ .metadata.name }}`-style references into the object, as in Polaris schemas. */
function render(value: unknown, root: Obj): unknown {
  if (typeof value !== "string") return value;
  return value.replace(/\{\{\s*\.([\w.]+)\s*\}\}/g, (_, path: string) =>
    String(path.split(".").reduce((o: Obj | undefined, k) => o?.[k], root) ?? ""),
  );
}

/**
 * A small JSON Schema (2019-09) validator for the keywords rule authors use: type, required,
 * properties, items, const, enum, pattern, minimum, maximum, minItems, and Polaris's
 * resourceMinimum / resourceMaximum for Kubernetes quantities.
 */
export function validateSchema(schema: Obj, value: unknown, root: Obj): boolean {
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t: string) => TYPES[t]?.(value))) return false;
  }
  if ("const" in schema && JSON.stringify(render(schema.const, root)) !== JSON.stringify(value)) return false;
  if (
    schema.enum &&
    !schema.enum.some((e: unknown) => JSON.stringify(render(e, root)) === JSON.stringify(value))
  )
    return false;
  if (typeof value === "string" && schema.pattern && !new RegExp(schema.pattern).test(value)) return false;
  if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum) return false;
  if (typeof value === "number" && schema.maximum !== undefined && value > schema.maximum) return false;
  if (schema.resourceMinimum !== undefined || schema.resourceMaximum !== undefined) {
    const quantity = parseQuantity(value as string);
    if (schema.resourceMinimum !== undefined && quantity < parseQuantity(schema.resourceMinimum))
      return false;
    if (schema.resourceMaximum !== undefined && quantity > parseQuantity(schema.resourceMaximum))
      return false;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return false;
    if (schema.items && !value.every((v) => validateSchema(schema.items, v, root))) return false;
  }
  if (TYPES.object!(value)) {
    const object = value as Obj;
    if (
      schema.required &&
      !schema.required.every((k: string) => object[k] !== undefined && object[k] !== null)
    )
      return false;
    for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, Obj>))
      if (object[key] !== undefined && object[key] !== null && !validateSchema(sub, object[key], root))
        return false;
  }
  return true;
}

/** Quantities written as YAML numbers read as Kubernetes would store them: as strings. */
function normalisedContainer(container: Obj): Obj {
  const resources = Object.fromEntries(
    Object.entries((container.resources ?? {}) as Record<string, Obj | null>).map(([k, v]) => [
      k,
      v && Object.fromEntries(Object.entries(v).map(([r, q]) => [r, typeof q === "number" ? String(q) : q])),
    ]),
  );
  return { ...container, ...(container.resources ? { resources } : {}) };
}

const BUILTIN_TARGETS = new Set(["Controller", "PodSpec", "PodTemplate", "Container"]);

export function customRule(id: string, definition: CustomRuleDefinition): AuditRule {
  if (!definition.target || !definition.schema)
    throw new SchemaError(`custom rule ${id}: target and schema are required`);
  const target: Target = BUILTIN_TARGETS.has(definition.target)
    ? (definition.target as Target)
    : { kind: definition.target.split("/").pop()! };
  const includeInit = !(definition.containers?.exclude ?? []).includes("initContainer");
  const subjectValue = (s: Subject): Obj =>
    target === "Container"
      ? normalisedContainer(s.container ?? {})
      : target === "PodSpec"
        ? (s.pod?.spec ?? {})
        : target === "PodTemplate"
          ? (s.pod ?? {})
          : s.object;
  return {
    id,
    category: (CATEGORIES.includes(definition.category as never)
      ? definition.category
      : "Reliability") as Category,
    severity: definition.severity ?? "medium",
    target,
    includeInit,
    description: definition.description ?? definition.failureMessage ?? id,
    why: definition.why ?? definition.failureMessage ?? "",
    fix: definition.fix ?? definition.successMessage ?? "",
    passes: (s) => validateSchema(definition.schema, subjectValue(s), s.object),
  };
}

/** Per configuration's custom rules, the whole rule set they make with the built-in ones. */
const compiledCustomRules = new WeakMap<Record<string, CustomRuleDefinition>, AuditRule[]>();

/** The built-in audit rules and the configuration's custom ones (compiled once per configuration). */
export function auditRules(config: InsightConfig = {}): AuditRule[] {
  if (!config.customRules) return AUDIT_RULES;
  let rules = compiledCustomRules.get(config.customRules);
  if (!rules) {
    rules = [
      ...AUDIT_RULES,
      ...Object.entries(config.customRules).map(([id, definition]) => customRule(id, definition)),
    ];
    compiledCustomRules.set(config.customRules, rules);
  }
  return rules;
}
