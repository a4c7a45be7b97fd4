// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are loose JSON, read defensively
export type Obj = Record<string, any>;

/** Kinds whose objects run pods: the "controllers" audit rules look at, a bare Pod included. */
export const WORKLOAD_KINDS = [
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Job",
  "CronJob",
  "Pod",
];

/**
 * Whether a workload is run by another workload (a Deployment's ReplicaSet, a ReplicaSet's pods,
 * a CronJob's Jobs). Its spec is its owner's, so configuration is audited on the owner alone, as
 * Polaris audits top-level controllers: one finding per spec a person wrote, not one per replica.
 * Owners Atoll does not audit (a custom controller, a Node for static pods) leave it audited.
 */
export function controlledByWorkload(object: Obj): boolean {
  return (object.metadata?.ownerReferences ?? []).some(
    (owner: Obj) => owner?.controller === true && WORKLOAD_KINDS.includes(owner.kind),
  );
}

/** The pod template's metadata and spec of a workload. */
export function podTemplate(workload: Obj): { metadata: Obj; spec: Obj } | undefined {
  switch (workload.kind) {
    case "Pod":
      return { metadata: workload.metadata ?? {}, spec: workload.spec ?? {} };
    case "CronJob":
      return workload.spec?.jobTemplate?.spec?.template
        ? {
            metadata: workload.spec.jobTemplate.spec.template.metadata ?? {},
            spec: workload.spec.jobTemplate.spec.template.spec ?? {},
          }
        : undefined;
    default:
      return workload.spec?.template
        ? { metadata: workload.spec.template.metadata ?? {}, spec: workload.spec.template.spec ?? {} }
        : undefined;
  }
}

/** Fields a pod-level securityContext can have; anything else is not part of the type and is ignored. */
const POD_SECURITY_CONTEXT_FIELDS = [
  "runAsUser",
  "runAsGroup",
  "runAsNonRoot",
  "fsGroup",
  "fsGroupChangePolicy",
  "supplementalGroups",
  "supplementalGroupsPolicy",
  "seccompProfile",
  "seLinuxOptions",
  "seLinuxChangePolicy",
  "sysctls",
  "windowsOptions",
  "appArmorProfile",
];

/**
 * What Kubernetes itself would keep of a security context: nulls mean absent, and fields the type
 * does not have (a pod-level privileged, say) are dropped, as the API server drops them.
 */
export function podSecurityContext(spec: Obj): Obj {
  const sc = spec.securityContext ?? {};
  return Object.fromEntries(
    Object.entries(sc).filter(([k, v]) => POD_SECURITY_CONTEXT_FIELDS.includes(k) && v !== null),
  );
}

export function containerSecurityContext(container: Obj): Obj {
  return Object.fromEntries(Object.entries(container.securityContext ?? {}).filter(([, v]) => v !== null));
}

export const namespaceOf = (o: Obj) => o.metadata?.namespace ?? "";
