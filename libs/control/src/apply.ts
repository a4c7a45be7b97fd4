import type { Bus } from "@atoll/bus";
import { sealSecretValues, templateKey } from "@atoll/config";
import { create, PlacementReason, PlacementRequestSchema, placementCodec } from "@atoll/contracts";
import {
  type Authority,
  clustersBeyond,
  DocumentsError,
  type OverridePolicyDoc,
  overrideReach,
  type ParsedDocuments,
  POLICY_API_VERSION,
  type PropagationPolicyDoc,
  parseDocuments,
  placementReach,
  readDocuments,
} from "@atoll/placement";
import {
  deletePolicy,
  deleteTemplate,
  getPolicy,
  getTemplate,
  listClusterRegistry,
  listTemplateKeys,
  type TemplateKey,
  upsertPolicy,
  upsertTemplate,
} from "@atoll/store";
import type postgres from "postgres";
import { clusterInfo } from "./fleet.js";

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

/** Who is applying, and where their write grants reach for one object. */
export interface Writer {
  /** How the objects will name who applied them, e.g. "ci (role deployer)". */
  name: string;
  /**
   * The clusters where the writer may write an object of this namespace ("" for a cluster-scoped
   * object or a Cluster*Policy) and kind: ["*"] for every cluster, their names, or none.
   */
  clustersFor(scope: { namespace: string; kind: string }): string[];
}

/** A writer over every cluster, namespace and kind: the hub itself, and tests of placement. */
export const fleetWriter = (name: string): Writer => ({ name, clustersFor: () => ["*"] });

/** The writer may not apply or delete some of the documents; nothing was stored. */
export class WriteForbiddenError extends Error {
  readonly code = "WRITE_FORBIDDEN";
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
  }
}

const clusterList = (clusters: string[]) => (clusters.includes("*") ? "every cluster" : clusters.join(", "));

interface Item {
  type: "propagation" | "override" | "taint" | "template";
  key: { apiVersion: string; kind: string; namespace: string; name: string };
  doc: Record<string, unknown>;
  authority: Authority;
}

/**
 * Decides, before anything is stored, whether the writer may apply (or delete) every document:
 * its namespace or cluster scope and kind need a write grant; an object already stored needs
 * grants that reach every cluster it was applied with; a policy may only select or override
 * clusters the writer may write, as the fleet stands now. Scheduling then keeps every policy and
 * template inside the clusters recorded here, so later label changes widen nothing.
 */
async function authorize(
  sql: postgres.Sql,
  parsed: ParsedDocuments,
  writer: Writer,
  remove: boolean,
): Promise<Item[]> {
  const fleet = lazy(async () => (await listClusterRegistry(sql)).map(clusterInfo));
  const items: Item[] = [];
  const problems: string[] = [];
  const add = async (type: Item["type"], apiVersion: string, doc: Record<string, unknown>) => {
    const meta = doc.metadata as { namespace?: string; name: string };
    const key = { apiVersion, kind: doc.kind as string, namespace: meta.namespace ?? "", name: meta.name };
    const what = label(key.kind, key.namespace, key.name);
    const clusters = writer.clustersFor({ namespace: key.namespace, kind: key.kind });
    if (clusters.length === 0) {
      problems.push(
        `${what}: ${writer.name} has no write grant over ${key.namespace ? `namespace ${key.namespace}` : "cluster-scoped objects"} for kind ${key.kind}; ask an admin for one`,
      );
      return;
    }
    if (type === "taint" && !clusters.includes("*")) {
      problems.push(
        `${what}: a ClusterTaintPolicy taints clusters under every workload, so it needs write over every cluster; ${writer.name} may write only ${clusterList(clusters)}`,
      );
      return;
    }
    const stored = (type === "template" ? await getTemplate(sql, key) : await getPolicy(sql, key))?.authority;
    const beyondStored = stored ? clustersBeyond(clusters, stored.clusters) : [];
    if (stored && beyondStored.length)
      problems.push(
        `${what} was applied by ${stored.appliedBy || "the hub"} with write grants over ${clusterList(stored.clusters)}; ` +
          `${writer.name} may not write ${clusterList(beyondStored)}, so may not ${remove ? "delete" : "change"} it`,
      );
    if (!remove && (type === "propagation" || type === "override")) {
      const reach =
        type === "propagation"
          ? placementReach((doc as unknown as PropagationPolicyDoc).spec.placement, await fleet())
          : overrideReach(doc as unknown as OverridePolicyDoc, await fleet());
      const beyond = clustersBeyond(clusters, reach);
      if (beyond.length)
        problems.push(
          `${what}: its ${type === "propagation" ? "placement selects" : "rules override"} ${beyond.join(", ")}, outside the clusters ${writer.name} may write (${clusterList(clusters)}); ` +
            "name only those clusters (clusterNames, or exclude the others)",
        );
    }
    items.push({ type, key, doc, authority: { appliedBy: writer.name, clusters } });
  };
  for (const doc of parsed.propagationPolicies) await add("propagation", POLICY_API_VERSION, doc as never);
  for (const doc of parsed.overridePolicies) await add("override", POLICY_API_VERSION, doc as never);
  for (const doc of parsed.clusterTaintPolicies) await add("taint", POLICY_API_VERSION, doc as never);
  for (const doc of parsed.templates) await add("template", doc.apiVersion, doc as never);
  if (problems.length) throw new WriteForbiddenError(problems);
  return items;
}

/**
 * Seals the values of Secret templates in place, so they are never stored or sent in the clear;
 * a hub without a key refuses them rather than keep them readable.
 */
function sealSecretTemplates(parsed: ParsedDocuments, secretKey: Buffer | undefined): void {
  parsed.templates = parsed.templates.map((template) => {
    if (template.kind !== "Secret" || template.apiVersion !== "v1") return template;
    if (!secretKey)
      throw new DocumentsError([
        `Secret ${template.metadata.namespace ?? "default"}/${template.metadata.name}: this hub places Secrets only with their values sealed, and it has no key; set ATOLL_SECRET_KEY (openssl rand -base64 32) on the query service, the scheduler and the hub agent`,
      ]);
    return sealSecretValues(templateKey(secretKey), template) as typeof template;
  });
}

/** kubectl apply's words for what a stored document did. */
const outcome = (stored: { changed: boolean; created: boolean }) =>
  stored.created ? "created" : stored.changed ? "configured" : "unchanged";

/** Runs an async computation once, on first use. */
function lazy<T>(compute: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= compute();
    return value;
  };
}

/**
 * `atoll apply -f`: stores policies and templates with the writer's authority, then asks for
 * placement of every template a change can move (a policy change may move any template). With
 * remove, deletes them instead; a deleted template is withdrawn from every cluster. Nothing is
 * stored unless the writer may write every document.
 */
export async function applyDocuments(
  sql: postgres.Sql,
  bus: Bus,
  text: string,
  writer: Writer,
  options: {
    namespace?: string;
    remove?: boolean;
    allowNoExecuteTaintPolicy?: boolean;
    /** The hub's key: Secret templates are stored with their values sealed under it. */
    secretKey?: Buffer;
  } = {},
): Promise<ApplyResult> {
  const parsed = parseDocuments(await readDocuments(text), options.namespace ?? "default", {
    allowNoExecuteTaintPolicy: options.allowNoExecuteTaintPolicy ?? false,
  });
  const remove = options.remove ?? false;
  if (!remove) sealSecretTemplates(parsed, options.secretKey);
  const items = await authorize(sql, parsed, writer, remove);
  const results: string[] = [];
  const touched: TemplateKey[] = [];
  let policiesChanged = false;
  for (const { type, key, doc, authority } of items) {
    const what = label(key.kind, key.namespace, key.name);
    if (type === "template") {
      if (remove) {
        const deleted = await deleteTemplate(sql, key);
        if (deleted) await requestPlacement(bus, key, PlacementReason.TEMPLATE_DELETED);
        results.push(`${what}: ${deleted ? "deleted" : "not found"}`);
      } else {
        const stored = await upsertTemplate(sql, key, doc, authority);
        if (stored.changed) touched.push(key);
        results.push(`${what}: ${outcome(stored)}`);
      }
      continue;
    }
    const policyKey = { kind: key.kind, namespace: key.namespace, name: key.name };
    // Taint policies change clusters, not templates: the scheduler's fleet check applies them.
    // Any other policy change owes every template a placement, recorded with the change.
    const change = { requestsPlacement: type !== "taint" };
    if (remove) {
      const deleted = await deletePolicy(sql, policyKey, change);
      if (change.requestsPlacement) policiesChanged ||= deleted;
      results.push(`${what}: ${deleted ? "deleted" : "not found"}`);
      continue;
    }
    const stored = await upsertPolicy(sql, { ...policyKey, document: doc, authority }, change);
    if (change.requestsPlacement) policiesChanged ||= stored.changed;
    results.push(`${what}: ${outcome(stored)}`);
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
