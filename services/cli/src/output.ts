import { customColumns } from "@atoll/kube";
import YAML from "yaml";
import { type Any, table } from "./hub.js";
import { SetupError } from "./infra.js";

/** The -o help every listing command shares. */
export const OUTPUT_USAGE =
  "-o table|wide|name|json|yaml|custom-columns=HEADER:.path,...   as kubectl's -o (default table)";

/** What a listing prints under each -o. */
export interface Listing {
  header: string[];
  rows: string[][];
  /** Columns -o wide adds after the table's. */
  wideHeader: string[];
  wideRows: string[][];
  /** The objects, for -o json, yaml and custom-columns. */
  objects: Any[];
  names: string[];
}

/** Checks -o before anything is fetched, so a typo costs no request. */
export function checkOutput(output: string): void {
  if (["table", "wide", "name", "json", "yaml"].includes(output) || output.startsWith("custom-columns="))
    return;
  throw new SetupError(`-o ${output}: use table, wide, name, json, yaml or custom-columns=HEADER:.path,...`);
}

export function printListing(output: string, listing: Listing, print: (text: string) => void): void {
  print(listingText(output, listing));
}

function listingText(output: string, listing: Listing): string {
  if (output === "json") return JSON.stringify(listing.objects, null, 2);
  if (output === "yaml")
    return YAML.stringify({ apiVersion: "v1", kind: "List", items: listing.objects }).trimEnd();
  if (output === "name") return listing.names.join("\n");
  if (output.startsWith("custom-columns="))
    return customColumns(output.slice("custom-columns=".length), listing.objects).trimEnd();
  const wide = output === "wide";
  return table([
    [...listing.header, ...(wide ? listing.wideHeader : [])],
    ...listing.rows.map((row, i) => [...row, ...(wide ? (listing.wideRows[i] ?? []) : [])]),
  ]);
}
