import { BUILTIN_RESOURCE_TYPES } from "@atoll/kube";

/** "pods", "pod", "po" and "Pod" all mean Pod; unknown kinds (custom resources) pass through. */
export function resolveKind(input: string): string {
  const lower = input.toLowerCase();
  const type = BUILTIN_RESOURCE_TYPES.find(
    (t) => t.kind.toLowerCase() === lower || t.resource === lower || t.shortNames.includes(lower),
  );
  return type?.kind ?? input;
}
