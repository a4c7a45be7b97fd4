/**
 * What leaves a cluster: no managed fields, no last-applied copy (it can embed secrets), and a
 * Secret's values replaced by their lengths so the keys stay searchable and the values never leave.
 */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

export interface RedactedSecretValue {
  redacted: true;
  length: number;
}

function redactValues(values: unknown, decode: boolean): Record<string, RedactedSecretValue> {
  const out: Record<string, RedactedSecretValue> = {};
  if (values === null || typeof values !== "object") return out;
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    const text = typeof value === "string" ? value : "";
    out[key] = {
      redacted: true,
      length: decode ? Buffer.from(text, "base64").length : Buffer.byteLength(text),
    };
  }
  return out;
}

export function redactObject<T extends Record<string, unknown>>(object: T): T {
  const copy: Record<string, unknown> = { ...object };
  const metadata = copy.metadata as Record<string, unknown> | undefined;
  if (metadata) {
    const { managedFields: _managed, ...rest } = metadata;
    const annotations = rest.annotations as Record<string, string> | undefined;
    if (annotations && LAST_APPLIED in annotations) {
      const { [LAST_APPLIED]: _lastApplied, ...keep } = annotations;
      rest.annotations = keep;
    }
    copy.metadata = rest;
  }
  if (copy.kind === "Secret" && (copy.apiVersion === "v1" || copy.apiVersion === undefined)) {
    if ("data" in copy) copy.data = redactValues(copy.data, true);
    if ("stringData" in copy) copy.stringData = redactValues(copy.stringData, false);
  }
  return copy as T;
}
