import { BUILTIN_RESOURCE_TYPES } from "@atoll/kube";
import type { Condition } from "./ir.js";

/** "pods", "pod", "po" and "Pod" all mean Pod; unknown kinds (custom resources) pass through. */
export function resolveKind(input: string): string {
  const lower = input.toLowerCase();
  const type = BUILTIN_RESOURCE_TYPES.find(
    (t) => t.kind.toLowerCase() === lower || t.resource === lower || t.shortNames.includes(lower),
  );
  return type?.kind ?? input;
}

/**
 * The kinds a query requires that Kubernetes does not build in (custom resources, or typos):
 * the ones worth checking against the index when a search finds nothing.
 */
export function unfamiliarKinds(where: Condition | undefined): string[] {
  const kinds = new Set<string>();
  const visit = (c: Condition | undefined) => {
    if (!c) return;
    if (c.type === "and") c.of.forEach(visit);
    else if (c.type === "compare" && c.op === "=" && c.field.kind === "column" && c.field.name === "kind")
      kinds.add(String(c.value));
  };
  visit(where);
  return [...kinds].filter((kind) => !BUILTIN_RESOURCE_TYPES.some((t) => t.kind === kind));
}
