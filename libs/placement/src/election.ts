import { labelSelectorMatches, validLabelKey } from "./affinity.js";
import type { LabelSelector } from "./types.js";

export interface ResourceSelector {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  labelSelector?: LabelSelector;
}

export interface TemplateRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

export interface PolicyRef {
  name: string;
  priority?: number | null;
  resourceSelectors: ResourceSelector[];
}

/** How specifically a selector picks a template: by name beats by labels beats match-all. */
export const SelectorPriority = { MisMatch: 0, MatchAll: 1, MatchLabelSelector: 2, MatchName: 3 } as const;

function selectorValid(selector: LabelSelector): boolean {
  return [
    ...Object.keys(selector.matchLabels ?? {}),
    ...(selector.matchExpressions ?? []).map((e) => e.key),
  ].every(validLabelKey);
}

export function resourceSelectorPriority(template: TemplateRef, selector: ResourceSelector): number {
  if (selector.apiVersion !== template.apiVersion || selector.kind !== template.kind)
    return SelectorPriority.MisMatch;
  if (selector.namespace && selector.namespace !== (template.metadata.namespace ?? ""))
    return SelectorPriority.MisMatch;
  // A name makes the label selector irrelevant.
  if (selector.name)
    return selector.name === template.metadata.name ? SelectorPriority.MatchName : SelectorPriority.MisMatch;
  if (selector.labelSelector) {
    if (!selectorValid(selector.labelSelector)) return SelectorPriority.MisMatch;
    return labelSelectorMatches(selector.labelSelector, template.metadata.labels ?? {})
      ? SelectorPriority.MatchLabelSelector
      : SelectorPriority.MisMatch;
  }
  return SelectorPriority.MatchAll;
}

/** A policy's claim on a template: its best selector. */
export function implicitPriority(
  template: TemplateRef,
  policy: Pick<PolicyRef, "resourceSelectors">,
): number {
  return Math.max(
    SelectorPriority.MisMatch,
    ...policy.resourceSelectors.map((s) => resourceSelectorPriority(template, s)),
  );
}

/**
 * The policy that wins a template: explicit priority first, then how specifically it selects
 * (name > labels > all), then the alphabetically first name. Policies that do not select it
 * do not compete.
 */
export function electPolicy<P extends PolicyRef>(template: TemplateRef, policies: P[]): P | undefined {
  let best: { policy: P; explicit: number; implicit: number } | undefined;
  for (const policy of policies) {
    const implicit = implicitPriority(template, policy);
    if (implicit === SelectorPriority.MisMatch) continue;
    const explicit = policy.priority ?? 0;
    if (
      !best ||
      explicit > best.explicit ||
      (explicit === best.explicit &&
        (implicit > best.implicit || (implicit === best.implicit && policy.name < best.policy.name)))
    )
      best = { policy, explicit, implicit };
  }
  return best?.policy;
}

/** A propagation policy as preemption sees it. */
export interface ClaimingPolicy extends PolicyRef {
  /** ClusterPropagationPolicy is cluster-wide; PropagationPolicy is namespaced. */
  clusterWide: boolean;
  preemption?: "Always" | "Never";
}

/**
 * Whether `challenger` takes a template that `holder` has claimed, as Karmada's detector decides
 * with PropagationPolicyPreemption on: only a challenger with `preemption: Always` whose selector
 * names the template; a namespaced policy takes it from any cluster-wide one, and from a
 * namespaced one of strictly lower priority; a cluster-wide policy only from a cluster-wide one of
 * strictly lower priority. Equal priority never preempts.
 */
export function preempts(template: TemplateRef, challenger: ClaimingPolicy, holder: ClaimingPolicy): boolean {
  if (challenger.preemption !== "Always" || challenger === holder) return false;
  if (implicitPriority(template, challenger) !== SelectorPriority.MatchName) return false;
  const higher = (challenger.priority ?? 0) > (holder.priority ?? 0);
  if (!challenger.clusterWide) return holder.clusterWide || higher;
  return holder.clusterWide && higher;
}

/**
 * The policy that ends up holding a claimed template: the holder, unless challengers preempt it,
 * in which case the strongest of them (namespaced first, then priority, then name).
 */
export function holderAfterPreemption<P extends ClaimingPolicy>(
  template: TemplateRef,
  holder: P,
  challengers: P[],
): P {
  const winners = challengers.filter((c) => preempts(template, c, holder));
  winners.sort(
    (a, b) =>
      Number(a.clusterWide) - Number(b.clusterWide) ||
      (b.priority ?? 0) - (a.priority ?? 0) ||
      a.name.localeCompare(b.name),
  );
  return winners[0] ?? holder;
}
