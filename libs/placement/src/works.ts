import { applyRules, type OverridePolicyDoc, overridePlan, type PlannedRule, rulesFor } from "./overrides.js";
import type { TemplateDoc } from "./policy.js";
import type { ClusterInfo } from "./types.js";

/** Labels every object Atoll places carries, so the agent knows what it owns. */
export const MANAGED_BY_LABEL = "atoll.dev/managed-by";
export const BINDING_LABEL = "atoll.dev/binding";

/** A binding's name, as Karmada names it: <template name>-<kind>, lower case, ':' as '.'. */
export function bindingName(template: { kind: string; metadata: { name: string } }): string {
  return `${template.metadata.name.replace(/:/g, ".")}-${template.kind}`.toLowerCase();
}

/** The template as a member cluster should get it: no server-set fields, no status. */
export function cleanTemplate(template: TemplateDoc): TemplateDoc {
  const { status: _status, ...rest } = template;
  const {
    uid: _uid,
    resourceVersion: _rv,
    creationTimestamp: _ct,
    managedFields: _mf,
    generation: _g,
    ...metadata
  } = template.metadata;
  return { ...rest, metadata };
}

/** The same workload with this cluster's share of replicas (Jobs: parallelism). */
export function reviseReplicas(template: TemplateDoc, replicas: number | undefined): TemplateDoc {
  if (replicas === undefined) return template;
  if (template.kind === "Job") return { ...template, spec: { ...template.spec, parallelism: replicas } };
  if (["Deployment", "StatefulSet", "ReplicaSet"].includes(template.kind))
    return { ...template, spec: { ...template.spec, replicas } };
  return template;
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are loose JSON
type Loose = any;

/**
 * The ConfigMaps, Secrets, ServiceAccounts and PersistentVolumeClaims a workload's pods refer to,
 * by name: what propagateDeps sends along with it.
 */
export function dependencies(template: TemplateDoc): { kind: string; name: string }[] {
  const podSpec: Loose =
    template.kind === "Pod"
      ? template.spec
      : template.kind === "CronJob"
        ? template.spec?.jobTemplate?.spec?.template?.spec
        : template.spec?.template?.spec;
  if (!podSpec) return [];
  const found = new Map<string, { kind: string; name: string }>();
  const add = (kind: string, name: unknown) => {
    if (typeof name === "string" && name) found.set(`${kind}/${name}`, { kind, name });
  };
  if (podSpec.serviceAccountName && podSpec.serviceAccountName !== "default")
    add("ServiceAccount", podSpec.serviceAccountName);
  for (const secret of podSpec.imagePullSecrets ?? []) add("Secret", secret.name);
  for (const volume of podSpec.volumes ?? []) {
    add("ConfigMap", volume.configMap?.name);
    add("Secret", volume.secret?.secretName);
    add("PersistentVolumeClaim", volume.persistentVolumeClaim?.claimName);
    for (const source of volume.projected?.sources ?? []) {
      add("ConfigMap", source.configMap?.name);
      add("Secret", source.secret?.name);
    }
  }
  for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
    for (const from of container.envFrom ?? []) {
      add("ConfigMap", from.configMapRef?.name);
      add("Secret", from.secretRef?.name);
    }
    for (const env of container.env ?? []) {
      add("ConfigMap", env.valueFrom?.configMapKeyRef?.name);
      add("Secret", env.valueFrom?.secretKeyRef?.name);
    }
  }
  return [...found.values()];
}

/** A cluster a binding's works go to, and its share of the replicas. */
export interface RenderTarget {
  cluster: ClusterInfo;
  replicas: number | undefined;
}

/** The manifests one cluster gets, or why its override rules could not be applied. */
export type RenderedWork = { manifests: TemplateDoc[]; appliedOverrides: string[] } | { error: Error };

/**
 * The manifests each target cluster gets for a binding: the template with its share of replicas
 * and the override rules for that cluster, then its dependencies with theirs, each labelled as
 * ours. Clusters with the same share and the same rules get one rendering (the same objects,
 * made once): most of a binding's clusters differ in nothing else.
 */
export function renderWorks(options: {
  template: TemplateDoc;
  dependencies?: TemplateDoc[];
  overridePolicies: OverridePolicyDoc[];
  binding: string;
  targets: RenderTarget[];
}): RenderedWork[] {
  const documents = [options.template, ...(options.dependencies ?? [])].map(cleanTemplate);
  const plans = documents.map((doc) => overridePlan(doc, options.overridePolicies));
  const render = (replicas: number | undefined, rules: PlannedRule[][]): RenderedWork => {
    const applied: string[] = [];
    try {
      const manifests = documents.map((doc, i) => {
        const { manifest, applied: used } = applyRules(
          i === 0 ? reviseReplicas(doc, replicas) : doc,
          rules[i]!,
        );
        applied.push(...used);
        return {
          ...manifest,
          metadata: {
            ...manifest.metadata,
            labels: {
              ...manifest.metadata?.labels,
              [MANAGED_BY_LABEL]: "atoll",
              [BINDING_LABEL]: options.binding,
            },
          },
        } as TemplateDoc;
      });
      return { manifests, appliedOverrides: [...new Set(applied)] };
    } catch (error) {
      return { error: error as Error };
    }
  };
  const rendered = new Map<string, RenderedWork>();
  return options.targets.map(({ cluster, replicas }) => {
    const rules = plans.map((plan) => rulesFor(plan, cluster));
    const key = `${replicas}/${rules.map((used, i) => used.map((rule) => plans[i]!.indexOf(rule)).join(",")).join("/")}`;
    let work = rendered.get(key);
    if (!work) {
      work = render(replicas, rules);
      rendered.set(key, work);
    }
    return work;
  });
}
