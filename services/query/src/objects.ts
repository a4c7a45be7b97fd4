import { annotated, customColumns } from "@atoll/kube";
import type { SearchItem } from "@atoll/search";
import YAML from "yaml";
import { badRequest } from "./problem.js";

/**
 * Search results as kubectl prints them: format=json or yaml gives a v1 List, format=
 * custom-columns=HEADER:.path,... gives aligned text.
 */
export function formatted(
  format: string,
  items: SearchItem[],
  next: string | null,
): { type: string; body: string } {
  const objects = items.map(annotated);
  const list = {
    apiVersion: "v1",
    kind: "List",
    metadata: next ? { continue: next } : {},
    items: objects,
  };
  if (format === "json") return { type: "application/json", body: JSON.stringify(list, null, 2) };
  if (format === "yaml") return { type: "application/yaml", body: YAML.stringify(list) };
  if (format.startsWith("custom-columns="))
    return {
      type: "text/plain; charset=utf-8",
      body: customColumns(format.slice("custom-columns=".length), objects),
    };
  throw badRequest(
    "INVALID_FORMAT",
    `format must be json, yaml or custom-columns=HEADER:.path[,...], got "${format}"`,
  );
}
