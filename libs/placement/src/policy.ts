import {
  apiVersionOf,
  BUILTIN_RESOURCE_TYPES,
  readYamlDocuments,
  readYamlDocumentsOffLoop,
  type YamlDocument,
  YamlLimitError,
} from "@atoll/kube";
import type { ClusterTaintPolicyDoc } from "./cluster-health.js";
import type { OverridePolicyDoc } from "./overrides.js";
import { POLICY_API_VERSION, type PropagationPolicyDoc } from "./propagation-policy.js";
import {
  clusterTaintPolicyErrors,
  type FieldError,
  objectMetaErrors,
  overridePolicyErrors,
  propagationPolicyErrors,
} from "./validation.js";

// biome-ignore lint/suspicious/noExplicitAny: templates are any Kubernetes object
type Loose = any;
export type TemplateDoc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: Loose };
  [k: string]: Loose;
};

export class PolicyValidationError extends Error {
  readonly code = "INVALID_POLICY";
  constructor(
    readonly document: string,
    readonly errors: FieldError[],
  ) {
    super(`${document} is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  }
}

/** The webhook's defaults: spread by cluster with minGroups 1, Divided means Weighted. */
export function withDefaults(doc: PropagationPolicyDoc): PropagationPolicyDoc {
  const placement = doc.spec.placement;
  if (!placement) return doc;
  return {
    ...doc,
    spec: {
      ...doc.spec,
      placement: {
        ...placement,
        ...(placement.spreadConstraints
          ? {
              spreadConstraints: placement.spreadConstraints.map((c) => ({
                ...c,
                ...(!c.spreadByField && !c.spreadByLabel ? { spreadByField: "cluster" as const } : {}),
                minGroups: c.minGroups || 1,
              })),
            }
          : {}),
        ...(placement.replicaScheduling
          ? {
              replicaScheduling: {
                ...placement.replicaScheduling,
                replicaSchedulingType: placement.replicaScheduling.replicaSchedulingType ?? "Divided",
                ...((placement.replicaScheduling.replicaSchedulingType ?? "Divided") === "Divided" &&
                !placement.replicaScheduling.replicaDivisionPreference
                  ? { replicaDivisionPreference: "Weighted" }
                  : {}),
              },
            }
          : {}),
      },
    },
  };
}

export interface ParsedDocuments {
  propagationPolicies: PropagationPolicyDoc[];
  overridePolicies: OverridePolicyDoc[];
  clusterTaintPolicies: ClusterTaintPolicyDoc[];
  templates: TemplateDoc[];
}

const describeDoc = (
  doc: { kind?: string; metadata?: { name?: string; namespace?: string } },
  index: number,
) =>
  `document ${index + 1} (${doc.kind ?? "no kind"} ${doc.metadata?.namespace ? `${doc.metadata.namespace}/` : ""}${doc.metadata?.name ?? "unnamed"})`;

/** Where a NUL character sits in a document, as a dotted path; undefined if nowhere. */
function nulCharacterPath(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (key.includes("\u0000")) return childPath;
    const found = nulCharacterPath(child, childPath);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Kinds that belong to the cluster they are in (its nodes, its events, questions put to its API
 * server): no member cluster can be given one by another's template.
 */
const NEVER_PLACED = new Set([
  "Node",
  "Event",
  "Binding",
  "ComponentStatus",
  "CertificateSigningRequest",
  "TokenReview",
  "TokenRequest",
  "SubjectAccessReview",
  "LocalSubjectAccessReview",
  "SelfSubjectAccessReview",
  "SelfSubjectRulesReview",
  "SelfSubjectReview",
]);

/** Why the hub cannot place a template, if it cannot: a kind of no API, or one no cluster takes. */
function templateProblem(
  doc: Loose,
  type: (typeof BUILTIN_RESOURCE_TYPES)[number] | undefined,
): string | undefined {
  // Kubernetes' own kinds: the core group, or a *.k8s.io one; a CRD may reuse a name.
  const kubernetes = type !== undefined || /^(v1$|[a-z0-9.-]*\.k8s\.io\/)/.test(String(doc.apiVersion));
  if (NEVER_PLACED.has(doc.kind) && kubernetes)
    return `a ${doc.kind} belongs to the cluster it is in and cannot be placed; place the workloads that make it instead`;
  if (type) return undefined;
  // A built-in group and version with no such kind is a typo, not a custom resource.
  const sameVersion = BUILTIN_RESOURCE_TYPES.filter((t) => apiVersionOf(t) === doc.apiVersion);
  if (sameVersion.length > 0)
    return `${doc.apiVersion} has no kind ${doc.kind}; its kinds are ${[...new Set(sameVersion.map((t) => t.kind))].sort().join(", ")}`;
  return undefined;
}

/** A YAML limit broken while reading documents, as the DocumentsError callers answer 400 with. */
function unreadDocuments(error: unknown): unknown {
  return error instanceof YamlLimitError
    ? new DocumentsError([`the documents were not read: ${error.message}`])
    : error;
}

/** The documents of a YAML stream, read off the event loop, for parseDocuments. */
export async function readDocuments(text: string): Promise<YamlDocument[]> {
  try {
    return await readYamlDocumentsOffLoop(text);
  } catch (error) {
    throw unreadDocuments(error);
  }
}

/**
 * Multi-document YAML as `kubectl apply -f` takes it: Karmada policies, and any other object as a
 * resource template. Every problem in every document is reported at once.
 */
export function parseDocuments(
  text: string | YamlDocument[],
  defaultNamespace = "default",
  options: { allowNoExecuteTaintPolicy?: boolean } = {},
): ParsedDocuments {
  const parsed: ParsedDocuments = {
    propagationPolicies: [],
    overridePolicies: [],
    clusterTaintPolicies: [],
    templates: [],
  };
  const problems: string[] = [];
  let documents: YamlDocument[];
  try {
    documents = typeof text === "string" ? readYamlDocuments(text) : text;
  } catch (error) {
    throw unreadDocuments(error);
  }
  documents.forEach((document, index) => {
    if (document.error !== undefined) {
      problems.push(`document ${index + 1}: not valid YAML: ${document.error}`);
      return;
    }
    const doc = document.value as Loose;
    if (doc === null || doc === undefined) return;
    if (typeof doc !== "object" || !doc.apiVersion || !doc.kind || !doc.metadata?.name) {
      problems.push(`${describeDoc(doc ?? {}, index)}: apiVersion, kind and metadata.name are required`);
      return;
    }
    const nul = nulCharacterPath(doc, "");
    if (nul !== undefined) {
      problems.push(
        `${describeDoc(doc, index)}: ${nul.replaceAll("\u0000", "\\0")} contains a NUL character (\\0), which cannot be stored; remove it`,
      );
      return;
    }
    const meta = objectMetaErrors(doc);
    if (meta.length) {
      problems.push(new PolicyValidationError(describeDoc(doc, index), meta).message);
      return;
    }
    const namespaced = !["ClusterPropagationPolicy", "ClusterOverridePolicy", "ClusterTaintPolicy"].includes(
      doc.kind,
    );
    if (doc.apiVersion === POLICY_API_VERSION && namespaced && !doc.metadata.namespace)
      doc.metadata.namespace = defaultNamespace;
    if (
      doc.apiVersion === POLICY_API_VERSION &&
      (doc.kind === "PropagationPolicy" || doc.kind === "ClusterPropagationPolicy")
    ) {
      // The webhook fills a PropagationPolicy's selector namespaces with its own.
      if (doc.kind === "PropagationPolicy")
        for (const s of doc.spec?.resourceSelectors ?? []) s.namespace ||= doc.metadata.namespace;
      const errors = propagationPolicyErrors(doc);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.propagationPolicies.push(withDefaults(doc));
    } else if (
      doc.apiVersion === POLICY_API_VERSION &&
      (doc.kind === "OverridePolicy" || doc.kind === "ClusterOverridePolicy")
    ) {
      // The webhook fills an OverridePolicy's selector namespaces with its own, too.
      if (doc.kind === "OverridePolicy")
        for (const s of doc.spec?.resourceSelectors ?? []) s.namespace ||= doc.metadata.namespace;
      const errors = overridePolicyErrors(doc);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.overridePolicies.push(doc);
    } else if (doc.apiVersion === POLICY_API_VERSION && doc.kind === "ClusterTaintPolicy") {
      const errors = clusterTaintPolicyErrors(doc, options.allowNoExecuteTaintPolicy ?? false);
      if (errors.length) problems.push(new PolicyValidationError(describeDoc(doc, index), errors).message);
      else parsed.clusterTaintPolicies.push(doc);
    } else if (doc.apiVersion === POLICY_API_VERSION) {
      problems.push(
        `${describeDoc(doc, index)}: kind ${doc.kind} is not supported; use PropagationPolicy, ClusterPropagationPolicy, OverridePolicy, ClusterOverridePolicy or ClusterTaintPolicy`,
      );
    } else {
      const type = BUILTIN_RESOURCE_TYPES.find(
        (t) => t.kind === doc.kind && apiVersionOf(t) === doc.apiVersion,
      );
      const unplaceable = templateProblem(doc, type);
      if (unplaceable) {
        problems.push(`${describeDoc(doc, index)}: ${unplaceable}`);
        return;
      }
      if (!doc.metadata.namespace && type?.namespaced !== false) doc.metadata.namespace = defaultNamespace;
      parsed.templates.push(doc);
    }
  });
  if (problems.length) throw new DocumentsError(problems);
  return parsed;
}

export class DocumentsError extends Error {
  readonly code = "INVALID_DOCUMENTS";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}
