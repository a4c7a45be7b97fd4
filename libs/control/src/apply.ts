import type { Bus } from "@atoll/bus";
import { create, PlacementReason, PlacementRequestSchema, placementCodec } from "@atoll/contracts";
import { parseDocuments } from "@atoll/placement";
import {
  deletePolicy,
  deleteTemplate,
  listTemplateKeys,
  type TemplateKey,
  upsertPolicy,
  upsertTemplate,
} from "@atoll/store";
import type postgres from "postgres";

export interface ApplyResult {
  /** "Kind namespace/name: created|configured|unchanged|deleted|not found" per document. */
  results: string[];
}

/** Asks the scheduler to place a template again. */
export async function requestPlacement(
  bus: Bus,
  key: TemplateKey,
  reason: PlacementReason,
  cluster = "",
): Promise<void> {
  const requestedAt = Date.now();
  await bus.publish(
    bus.names.placement(),
    placementCodec,
    create(PlacementRequestSchema, {
      reason,
      apiVersion: key.apiVersion,
      kind: key.kind,
      namespace: key.namespace,
      name: key.name,
      cluster,
      requestedAtMs: BigInt(requestedAt),
    }),
    `${reason}:${key.apiVersion}:${key.kind}:${key.namespace}:${key.name}:${cluster}:${requestedAt}`,
  );
}

const label = (kind: string, namespace: string, name: string) =>
  `${kind} ${namespace ? `${namespace}/` : ""}${name}`;

/**
 * `atoll apply -f`: stores policies and templates, then asks for placement of every template a
 * change can move (a policy change may move any template). With remove, deletes them instead; a
 * deleted template is withdrawn from every cluster.
 */
export async function applyDocuments(
  sql: postgres.Sql,
  bus: Bus,
  text: string,
  options: { namespace?: string; remove?: boolean; allowNoExecuteTaintPolicy?: boolean } = {},
): Promise<ApplyResult> {
  const parsed = parseDocuments(text, options.namespace ?? "default", {
    allowNoExecuteTaintPolicy: options.allowNoExecuteTaintPolicy ?? false,
  });
  const results: string[] = [];
  const touched: TemplateKey[] = [];
  let policiesChanged = false;
  for (const doc of [...parsed.propagationPolicies, ...parsed.overridePolicies]) {
    const key = { kind: doc.kind, namespace: doc.metadata.namespace ?? "", name: doc.metadata.name };
    if (options.remove) {
      const deleted = await deletePolicy(sql, key);
      policiesChanged ||= deleted;
      results.push(`${label(key.kind, key.namespace, key.name)}: ${deleted ? "deleted" : "not found"}`);
    } else {
      const { changed } = await upsertPolicy(sql, { ...key, document: doc });
      policiesChanged ||= changed;
      results.push(`${label(key.kind, key.namespace, key.name)}: ${changed ? "configured" : "unchanged"}`);
    }
  }
  // Taint policies change clusters, not templates: the scheduler's fleet check applies them.
  for (const doc of parsed.clusterTaintPolicies) {
    const key = { kind: doc.kind, namespace: "", name: doc.metadata.name };
    const done = options.remove
      ? (await deletePolicy(sql, key))
        ? "deleted"
        : "not found"
      : (await upsertPolicy(sql, { ...key, document: doc })).changed
        ? "configured"
        : "unchanged";
    results.push(`${label(key.kind, "", key.name)}: ${done}`);
  }
  for (const doc of parsed.templates) {
    const key = {
      apiVersion: doc.apiVersion,
      kind: doc.kind,
      namespace: doc.metadata.namespace ?? "",
      name: doc.metadata.name,
    };
    if (options.remove) {
      const deleted = await deleteTemplate(sql, key);
      if (deleted) await requestPlacement(bus, key, PlacementReason.TEMPLATE_DELETED);
      results.push(`${label(key.kind, key.namespace, key.name)}: ${deleted ? "deleted" : "not found"}`);
    } else {
      const { changed } = await upsertTemplate(sql, key, doc);
      if (changed) touched.push(key);
      results.push(`${label(key.kind, key.namespace, key.name)}: ${changed ? "configured" : "unchanged"}`);
    }
  }
  const keys = policiesChanged ? await listTemplateKeys(sql) : touched;
  for (const key of keys)
    await requestPlacement(
      bus,
      key,
      policiesChanged ? PlacementReason.POLICY_CHANGED : PlacementReason.TEMPLATE_CHANGED,
    );
  return { results };
}
