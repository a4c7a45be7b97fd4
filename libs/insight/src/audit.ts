import { removedApi } from "./deprecated-apis.js";
import {
  containerSecurityContext,
  controlledByWorkload,
  namespaceOf,
  type Obj,
  podSecurityContext,
  podTemplate,
  WORKLOAD_KINDS,
} from "./objects.js";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const CATEGORIES = ["Security", "Reliability", "Efficiency"] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * What a rule looks at: a workload, its pod spec or template, each container, objects of a kind,
 * or every object whatever its kind.
 */
export type Target = "Controller" | "PodSpec" | "PodTemplate" | "Container" | "Object" | { kind: string };

export interface Subject {
  /** The object the finding is about (the workload for pod and container rules). */
  object: Obj;
  pod?: { metadata: Obj; spec: Obj };
  container?: Obj;
  init?: boolean;
}

/** Every object of the audited set, for rules that look across objects (PDBs, service accounts, roles). */
export interface AuditContext {
  objects: Obj[];
}

export interface AuditRule {
  id: string;
  category: Category;
  severity: Severity;
  target: Target;
  /** Container rules skip init containers unless this is set. */
  includeInit?: boolean;
  /** The rule reads other objects (PDBs, roles, service accounts), so it runs over a whole set. */
  crossObject?: boolean;
  /** Rules about long-running pods (probes, spread) skip Jobs and CronJobs. */
  skipJobs?: boolean;
  description: string;
  why: string;
  fix: string;
  /** True when the subject passes. */
  passes(subject: Subject, context: AuditContext): boolean;
  /** What exactly failed, for rules whose description alone cannot say (which API, which replacement). */
  detail?(subject: Subject): string | undefined;
}

const lower = (list: unknown) => (Array.isArray(list) ? list.map((v) => String(v).toLowerCase()) : []);
const isTrue = (v: unknown) => v === true;
const containers = (s: Subject) =>
  [...(s.pod?.spec.containers ?? []), ...(s.pod?.spec.initContainers ?? [])] as Obj[];
const sameNamespace = (a: Obj, b: Obj) => namespaceOf(a) === namespaceOf(b);
const ofKind = (context: AuditContext, kind: string) => context.objects.filter((o) => o.kind === kind);
const labelsOverlap = (selector: Obj | undefined, labels: Obj) =>
  Object.entries(selector ?? {}).some(([k, v]) => labels[k] === v);

const SENSITIVE_NAME = [
  /^AWS_SECRET_ACCESS_KEY$/,
  /^GOOGLE_APPLICATION_CREDENTIALS$/,
  /^AZURE_.+KEY$/,
  /^OCI_CLI_KEY_CONTENT$/,
  /password|token|bearer|secret/i,
];
const PRIVATE_KEY = /\s*-BEGIN\s+.*PRIVATE KEY-\s*/;
const sensitiveName = (name: string) => SENSITIVE_NAME.some((p) => p.test(name));

const INSECURE_CAPABILITIES = [
  "NET_ADMIN",
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
].map((c) => c.toLowerCase());

/** A role rule that lets its holder exec into or attach to pods. */
function allowsExecOrAttach(role: Obj | undefined): boolean {
  return (role?.rules ?? []).some(
    (r: Obj) =>
      lower(r.apiGroups).some((g) => g === "" || g === "*") &&
      lower(r.resources).some((x) => x === "*" || x === "pods/exec" || x === "pods/attach") &&
      lower(r.verbs).some((v) => v === "*" || v === "get" || v === "create"),
  );
}

const ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"];

/** A role rule equivalent to cluster-admin: every group, every resource, every verb. */
function grantsEverything(role: Obj | undefined): boolean {
  return (role?.rules ?? []).some((r: Obj) => {
    const verbs = new Set(lower(r.verbs));
    return (
      lower(r.apiGroups).includes("*") &&
      lower(r.resources).includes("*") &&
      (verbs.has("*") || ALL_VERBS.every((v) => verbs.has(v)))
    );
  });
}

const SYSTEM = (name: string) => name.startsWith("system:") || name === "gce:podsecuritypolicy:calico-sa";

/** The role a binding refers to, if it is in the audited set: a ClusterRole anywhere, a Role in its namespace. */
function referencedRole(binding: Obj, context: AuditContext): Obj | undefined {
  const ref = binding.roleRef ?? {};
  return context.objects.find(
    (o) =>
      o.kind === ref.kind &&
      o.metadata?.name === ref.name &&
      (ref.kind === "ClusterRole" || sameNamespace(o, binding)),
  );
}

/**
 * A binding check: bindings of the other roleRef kind pass; exempt binding names pass; the
 * referenced role must exist in the set and must not grant what the test looks for.
 */
function bindingPasses(
  binding: Obj,
  context: AuditContext,
  refKind: "Role" | "ClusterRole",
  grants: (role: Obj | undefined) => boolean,
  exempt: (binding: Obj) => boolean,
): boolean {
  if (binding.roleRef?.kind !== refKind) return true;
  if (exempt(binding)) return true;
  const role = referencedRole(binding, context);
  return role !== undefined && !grants(role);
}

const execExempt = (b: Obj) =>
  SYSTEM(b.metadata?.name ?? "") || b.metadata?.name === "cluster-admin" || b.roleRef?.name === "view";
const adminExempt = (b: Obj) => SYSTEM(b.metadata?.name ?? "");
const clusterAdminGrant = (ref: Obj) => (role: Obj | undefined) =>
  ref.name === "cluster-admin" || grantsEverything(role);

/** The seccomp profile type a container runs with: its own, else its pod's. */
function seccompType(container: Obj, pod: Obj): string | undefined {
  return (
    containerSecurityContext(container).seccompProfile?.type ?? podSecurityContext(pod).seccompProfile?.type
  );
}

function seccompHardened(container: Obj, pod: Obj): boolean {
  const type = seccompType(container, pod);
  return Boolean(type) && type !== "Unconfined";
}

/**
 * The seccomp profile the pre-1.19 annotations ask for (a container's own, else the pod's); old
 * clusters still honour them, and kubeaudit reads them too.
 */
function legacySeccomp(container: Obj, pod?: { metadata: Obj }): string | undefined {
  const annotations = pod?.metadata.annotations ?? {};
  return (
    annotations[`container.seccomp.security.alpha.kubernetes.io/${container.name}`] ??
    annotations["seccomp.security.alpha.kubernetes.io/pod"]
  );
}

/** The AppArmor profile the pre-1.30 annotation gives a container. */
function appArmorAnnotation(container: Obj, pod?: { metadata: Obj }): string | undefined {
  return pod?.metadata.annotations?.[`container.apparmor.security.beta.kubernetes.io/${container.name}`];
}

/** Whether a container's AppArmor profile is switched off, by the field (1.30+) or the older annotation. */
function appArmorUnconfined(container: Obj, pod?: { metadata: Obj; spec: Obj }): boolean {
  const type =
    containerSecurityContext(container).appArmorProfile?.type ??
    podSecurityContext(pod?.spec ?? {}).appArmorProfile?.type;
  return type === "Unconfined" || appArmorAnnotation(container, pod) === "unconfined";
}

function seLinuxSet(options: Obj | undefined): boolean {
  return Object.values(options ?? {}).some((v) => v !== null && v !== undefined && v !== "");
}

/** Polaris's full check set, kubeaudit's notable checks among them, with Atoll's severities and words. */
export const AUDIT_RULES: AuditRule[] = [
  {
    id: "deploymentMissingReplicas",
    category: "Reliability",
    severity: "low",
    target: "Controller",
    description: "A Deployment runs fewer than two replicas.",
    why: "One replica means any node drain, eviction or crash takes the service down.",
    fix: "Set spec.replicas to 2 or more.",
    passes: ({ object }) => object.kind !== "Deployment" || (object.spec?.replicas ?? 0) >= 2,
  },
  {
    id: "priorityClassNotSet",
    category: "Reliability",
    severity: "info",
    target: "PodSpec",
    description: "The pod has no priority class.",
    why: "Under pressure the scheduler cannot tell which pods matter most, so important ones may be preempted first.",
    fix: "Set spec.priorityClassName to a PriorityClass that reflects how critical the workload is.",
    passes: ({ pod }) => Boolean(pod?.spec.priorityClassName),
  },
  {
    id: "tagNotSpecified",
    category: "Reliability",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "The image has no tag, or uses latest.",
    why: "An untagged or latest image changes under you: two nodes can run different code, and rollbacks are guesswork.",
    fix: "Pin the image to a version tag or a digest.",
    passes: ({ container }) =>
      /^.+:.+$/.test(container?.image ?? "") && !/^.+:latest$/.test(container?.image ?? ""),
  },
  {
    id: "pullPolicyNotAlways",
    category: "Reliability",
    severity: "low",
    target: "Container",
    includeInit: true,
    description: "imagePullPolicy is not Always.",
    why: "A node may run a cached image that no longer matches the registry, including one pulled by someone else.",
    fix: "Set imagePullPolicy: Always.",
    passes: ({ container }) => container?.imagePullPolicy === "Always",
  },
  {
    id: "readinessProbeMissing",
    category: "Reliability",
    severity: "medium",
    target: "Container",
    skipJobs: true,
    description: "The container has no readiness probe.",
    why: "Traffic reaches the pod before it can serve, and keeps reaching it when it cannot.",
    fix: "Add a readinessProbe that checks the container can serve requests.",
    passes: ({ container }) => Boolean(container?.readinessProbe),
  },
  {
    id: "livenessProbeMissing",
    category: "Reliability",
    severity: "medium",
    target: "Container",
    skipJobs: true,
    description: "The container has no liveness probe.",
    why: "A hung process is never restarted; the pod looks alive while doing nothing.",
    fix: "Add a livenessProbe that fails when the process is stuck.",
    passes: ({ container }) => Boolean(container?.livenessProbe),
  },
  {
    id: "metadataAndInstanceMismatched",
    category: "Reliability",
    severity: "info",
    target: "Controller",
    description: "The app.kubernetes.io/instance label does not equal the object's name.",
    why: "Tools that group resources by instance cannot tell this workload apart from others.",
    fix: "Set metadata.labels['app.kubernetes.io/instance'] to metadata.name.",
    passes: ({ object }) => object.metadata?.labels?.["app.kubernetes.io/instance"] === object.metadata?.name,
  },
  {
    id: "pdbDisruptionsIsZero",
    category: "Reliability",
    severity: "medium",
    target: { kind: "PodDisruptionBudget" },
    description: "The PodDisruptionBudget allows no voluntary disruption.",
    why: "Node drains and cluster upgrades block forever on these pods.",
    fix: "Lower minAvailable below 100%, or set maxUnavailable above zero.",
    passes: ({ object }) =>
      object.spec?.minAvailable !== "100%" &&
      object.spec?.maxUnavailable !== 0 &&
      object.spec?.maxUnavailable !== "0%",
  },
  {
    id: "missingPodDisruptionBudget",
    category: "Reliability",
    severity: "low",
    target: "Controller",
    description: "No PodDisruptionBudget protects the Deployment's pods.",
    why: "A drain may evict every replica at once.",
    fix: "Add a PodDisruptionBudget whose selector matches the pod template's labels.",
    crossObject: true,
    passes: ({ object, pod }, context) => {
      if (object.kind !== "Deployment") return true;
      const labels = pod?.metadata.labels ?? {};
      if (Object.keys(labels).length === 0) return false;
      return ofKind(context, "PodDisruptionBudget").some(
        (pdb) => sameNamespace(pdb, object) && labelsOverlap(pdb.spec?.selector?.matchLabels, labels),
      );
    },
  },
  {
    id: "topologySpreadConstraint",
    category: "Reliability",
    severity: "info",
    target: "PodSpec",
    skipJobs: true,
    description: "The pods have no topology spread constraints.",
    why: "All replicas may land on one node or zone, which then takes them all down together.",
    fix: "Add topologySpreadConstraints over kubernetes.io/hostname or a zone label.",
    passes: ({ pod }) => (pod?.spec.topologySpreadConstraints ?? []).length > 0,
  },
  {
    id: "hpaMaxAvailability",
    category: "Reliability",
    severity: "medium",
    target: { kind: "HorizontalPodAutoscaler" },
    description: "The autoscaler cannot scale up.",
    why: "maxReplicas at or below minReplicas means load never adds replicas.",
    fix: "Set maxReplicas above minReplicas.",
    passes: ({ object }) => {
      const { minReplicas, maxReplicas } = object.spec ?? {};
      if (!(maxReplicas >= 1)) return false;
      return minReplicas === undefined || minReplicas === null || maxReplicas > minReplicas;
    },
  },
  {
    id: "hpaMinAvailability",
    category: "Reliability",
    severity: "low",
    target: { kind: "HorizontalPodAutoscaler" },
    description: "The autoscaler may scale down to one replica.",
    why: "At one replica, any disruption is an outage.",
    fix: "Set minReplicas to 2 or more.",
    passes: ({ object }) =>
      object.spec?.minReplicas === undefined ||
      object.spec?.minReplicas === null ||
      object.spec.minReplicas >= 2,
  },
  {
    id: "pdbMinAvailableGreaterThanHPAMinReplicas",
    category: "Reliability",
    severity: "medium",
    target: "Controller",
    description: "The PodDisruptionBudget needs more pods than the autoscaler may keep.",
    why: "When the autoscaler scales down to its minimum, no pod can be evicted and drains hang.",
    fix: "Keep minAvailable at or below the autoscaler's minReplicas.",
    crossObject: true,
    passes: ({ object, pod }, context) => {
      if (object.kind !== "Deployment") return true;
      const labels = pod?.metadata.labels ?? {};
      const pdb = ofKind(context, "PodDisruptionBudget").find(
        (p) => sameNamespace(p, object) && labelsOverlap(p.spec?.selector?.matchLabels, labels),
      );
      const hpa = ofKind(context, "HorizontalPodAutoscaler").find(
        (h) =>
          sameNamespace(h, object) &&
          h.spec?.scaleTargetRef?.kind === "Deployment" &&
          h.spec?.scaleTargetRef?.name === object.metadata?.name,
      );
      const min = hpa?.spec?.minReplicas;
      const available = pdb?.spec?.minAvailable;
      if (!pdb || !hpa || available === undefined || available === null || typeof min !== "number")
        return true;
      const needed =
        typeof available === "string" && available.endsWith("%")
          ? Math.ceil((Number.parseFloat(available) * min) / 100)
          : Number(available);
      return needed <= min;
    },
  },
  ...(["cpu", "memory"] as const).flatMap((resource): AuditRule[] =>
    (["requests", "limits"] as const).map((kind) => ({
      id: `${resource}${kind === "requests" ? "Requests" : "Limits"}Missing`,
      category: "Efficiency" as const,
      severity: kind === "requests" ? ("medium" as const) : ("low" as const),
      target: "Container" as const,
      description: `The container sets no ${resource} ${kind === "requests" ? "request" : "limit"}.`,
      why:
        kind === "requests"
          ? `Without a ${resource} request the scheduler cannot place the pod sensibly, and it is first to be squeezed.`
          : `Without a ${resource} limit one container can starve its neighbours on the node.`,
      fix: `Set resources.${kind}.${resource}.`,
      passes: ({ container }: Subject) => Boolean(container?.resources?.[kind]?.[resource]),
    })),
  ),
  {
    id: "automountServiceAccountToken",
    category: "Security",
    severity: "medium",
    target: "PodSpec",
    description: "A service account token is mounted into the pod.",
    why: "Anyone who breaks into the container gets the token and whatever it may do in the cluster.",
    fix: "Set automountServiceAccountToken: false on the pod or its ServiceAccount, unless the pod calls the API.",
    crossObject: true,
    passes: ({ object, pod }, context) => {
      const own = pod?.spec.automountServiceAccountToken;
      if (own === true) return false;
      if (own === false) return true;
      const name = pod?.spec.serviceAccountName ?? pod?.spec.serviceAccount ?? "default";
      const account = ofKind(context, "ServiceAccount").find(
        (sa) => sa.metadata?.name === name && sameNamespace(sa, object),
      );
      return account?.automountServiceAccountToken === false;
    },
  },
  ...(
    [
      ["hostIPCSet", "hostIPC", "the host's IPC namespace", "critical"],
      ["hostPIDSet", "hostPID", "the host's process namespace", "critical"],
      ["hostNetworkSet", "hostNetwork", "the host's network namespace", "high"],
    ] as const
  ).map(
    ([id, field, what, severity]): AuditRule => ({
      id,
      category: "Security",
      severity,
      target: "PodSpec",
      description: `The pod shares ${what}.`,
      why: `Sharing ${what} lets the pod see and reach what runs on the node outside its own sandbox.`,
      fix: `Remove ${field}: true.`,
      passes: ({ pod }) => !isTrue(pod?.spec[field]),
    }),
  ),
  {
    id: "hostPathSet",
    category: "Security",
    severity: "high",
    target: "PodSpec",
    description: "The pod mounts a path of the host.",
    why: "A host path mount can expose the node's files, credentials and container runtime to the pod.",
    fix: "Use a volume type other than hostPath.",
    passes: ({ pod }) => !(pod?.spec.volumes ?? []).some((v: Obj) => v.hostPath),
  },
  {
    id: "hostProcess",
    category: "Security",
    severity: "critical",
    target: "PodSpec",
    description: "The pod runs Windows host processes.",
    why: "A host process container has full access to the Windows node.",
    fix: "Remove securityContext.windowsOptions.hostProcess.",
    passes: (s) =>
      !isTrue(podSecurityContext(s.pod?.spec ?? {}).windowsOptions?.hostProcess) &&
      !containers(s).some((c) => isTrue(containerSecurityContext(c).windowsOptions?.hostProcess)),
  },
  {
    id: "hostPortSet",
    category: "Security",
    severity: "medium",
    target: "Container",
    includeInit: true,
    description: "The container binds a port on the host.",
    why: "A host port exposes the pod on the node's address and limits where it can be scheduled.",
    fix: "Remove hostPort and expose the pod through a Service.",
    passes: ({ container }) => !(container?.ports ?? []).some((p: Obj) => p.hostPort),
  },
  {
    id: "procMount",
    category: "Security",
    severity: "high",
    target: "PodSpec",
    description: "A container unmasks /proc.",
    why: "An unmasked /proc exposes kernel interfaces that the default mask hides.",
    fix: "Remove securityContext.procMount, or set it to Default.",
    passes: (s) =>
      !containers(s).some((c) => {
        const mount = containerSecurityContext(c).procMount;
        return mount !== undefined && mount !== "Default";
      }),
  },
  {
    id: "runAsRootAllowed",
    category: "Security",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "The container may run as root.",
    why: "Root in a container is root on the node if anything breaks out.",
    fix: "Set securityContext.runAsNonRoot: true, or a runAsUser above 0.",
    passes: ({ container, pod }) => {
      const own = containerSecurityContext(container ?? {});
      if (own.runAsNonRoot === true || own.runAsUser >= 1) return true;
      if (own.runAsNonRoot === false || own.runAsUser === 0) return false;
      const podLevel = podSecurityContext(pod?.spec ?? {});
      return podLevel.runAsNonRoot === true || podLevel.runAsUser >= 1;
    },
  },
  {
    id: "runAsPrivileged",
    category: "Security",
    severity: "critical",
    target: "Container",
    includeInit: true,
    description: "The container is privileged.",
    why: "A privileged container can do anything the node's root can.",
    fix: "Remove securityContext.privileged: true.",
    passes: ({ container }) => !isTrue(containerSecurityContext(container ?? {}).privileged),
  },
  {
    id: "privilegeEscalationAllowed",
    category: "Security",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "The container may gain more privileges than it started with.",
    why: "setuid binaries and similar tricks can then turn a compromise into root.",
    fix: "Set securityContext.allowPrivilegeEscalation: false on the container.",
    passes: ({ container }) => containerSecurityContext(container ?? {}).allowPrivilegeEscalation === false,
  },
  {
    id: "notReadOnlyRootFilesystem",
    category: "Security",
    severity: "medium",
    target: "Container",
    includeInit: true,
    description: "The container's root filesystem is writable.",
    why: "An attacker can drop tools and change binaries inside the container.",
    fix: "Set securityContext.readOnlyRootFilesystem: true and mount writable volumes where needed.",
    passes: ({ container }) => containerSecurityContext(container ?? {}).readOnlyRootFilesystem === true,
  },
  {
    id: "dangerousCapabilities",
    category: "Security",
    severity: "critical",
    target: "Container",
    includeInit: true,
    description: "The container adds ALL, SYS_ADMIN or NET_ADMIN capabilities.",
    why: "These capabilities are close to root on the node.",
    fix: "Remove them from securityContext.capabilities.add.",
    passes: ({ container }) =>
      !lower(containerSecurityContext(container ?? {}).capabilities?.add).some(
        (c) => c === "all" || c === "sys_admin" || c === "net_admin",
      ),
  },
  {
    id: "insecureCapabilities",
    category: "Security",
    severity: "medium",
    target: "Container",
    includeInit: true,
    description: "The container keeps capabilities it rarely needs.",
    why: "The default capability set (NET_RAW, CHOWN, SETUID and others) widens what a compromise can do.",
    fix: "Drop ALL capabilities and add back only those the process needs.",
    passes: ({ container }) => {
      const drop = lower(containerSecurityContext(container ?? {}).capabilities?.drop);
      return drop.includes("all") || INSECURE_CAPABILITIES.every((c) => drop.includes(c));
    },
  },
  {
    id: "linuxHardening",
    category: "Security",
    severity: "medium",
    target: "Container",
    includeInit: true,
    description: "The container uses none of AppArmor, seccomp, SELinux or dropped capabilities.",
    why: "Without a kernel-level profile, a process that escapes its code can call anything the kernel offers.",
    fix: "Set a seccompProfile (RuntimeDefault), an AppArmor or SELinux profile, or drop capabilities.",
    passes: ({ container, pod }) => {
      const c = container ?? {};
      const own = containerSecurityContext(c);
      const podLevel = podSecurityContext(pod?.spec ?? {});
      const appArmor = appArmorAnnotation(c, pod);
      const dropped =
        lower(own.capabilities?.drop).length > 0 && !lower(own.capabilities?.add).includes("all");
      return (
        Boolean(appArmor) ||
        seccompHardened(c, pod?.spec ?? {}) ||
        seLinuxSet(own.seLinuxOptions) ||
        seLinuxSet(podLevel.seLinuxOptions) ||
        dropped
      );
    },
  },
  {
    id: "seccompProfileMissing",
    category: "Security",
    severity: "medium",
    target: "Container",
    includeInit: true,
    description: "The container sets no seccomp profile, so it runs unconfined.",
    why: "Unless every kubelet runs with --seccomp-default, a container without a profile may make any system call, the rare ones that kernel exploits use included.",
    fix: "Set securityContext.seccompProfile.type: RuntimeDefault on the pod or the container (Localhost for a profile of your own).",
    passes: ({ container, pod }) =>
      seccompType(container ?? {}, pod?.spec ?? {}) !== undefined ||
      legacySeccomp(container ?? {}, pod) !== undefined,
  },
  {
    id: "seccompDisabled",
    category: "Security",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "The container's seccomp profile is set to Unconfined.",
    why: "Someone switched system-call filtering off on purpose; a compromised process may then call anything the kernel offers.",
    fix: "Replace Unconfined with RuntimeDefault, or with a Localhost profile that allows what the process needs.",
    passes: ({ container, pod }) => {
      const c = container ?? {};
      const type = seccompType(c, pod?.spec ?? {});
      return type !== undefined ? type !== "Unconfined" : legacySeccomp(c, pod) !== "unconfined";
    },
  },
  {
    id: "appArmorDisabled",
    category: "Security",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "The container's AppArmor profile is set to unconfined.",
    why: "On nodes with AppArmor the runtime's default profile would confine the container; unconfined removes that layer on purpose.",
    fix: "Remove the Unconfined appArmorProfile (or the unconfined annotation), or use RuntimeDefault or a Localhost profile.",
    passes: ({ container, pod }) => !appArmorUnconfined(container ?? {}, pod),
  },
  {
    id: "deprecatedApiVersion",
    category: "Reliability",
    severity: "high",
    target: "Object",
    description: "The object is written against an API version Kubernetes no longer serves.",
    why: "A current cluster refuses it, and a cluster still serving it cannot be upgraded past the release that removed it.",
    fix: "Move the object to the replacement apiVersion and adjust the fields that changed with it.",
    passes: ({ object }) => removedApi(object.apiVersion, object.kind) === undefined,
    detail: ({ object }) => removedApi(object.apiVersion, object.kind),
  },
  {
    id: "missingNetworkPolicy",
    category: "Security",
    severity: "medium",
    target: "PodTemplate",
    description: "No NetworkPolicy restricts both traffic into and out of these pods.",
    why: "Any pod in the cluster can reach them, and they can reach anything.",
    fix: "Add a NetworkPolicy selecting the pods by one label, with ingress and egress rules and both policy types.",
    crossObject: true,
    passes: ({ object, pod }, context) => {
      const labels = Object.entries(pod?.metadata.labels ?? {});
      if (labels.length === 0) return false;
      return ofKind(context, "NetworkPolicy").some((np) => {
        if (!sameNamespace(np, object)) return false;
        const selector = np.spec?.podSelector?.matchLabels ?? {};
        if (labels.filter(([k, v]) => selector[k] === v).length !== 1) return false;
        if (!(np.spec?.ingress?.length > 0 && np.spec?.egress?.length > 0)) return false;
        const types = np.spec?.policyTypes;
        return (
          types === undefined ||
          types === null ||
          (lower(types).includes("ingress") && lower(types).includes("egress"))
        );
      });
    },
  },
  {
    id: "tlsSettingsMissing",
    category: "Security",
    severity: "medium",
    target: { kind: "Ingress" },
    description: "The Ingress serves without TLS.",
    why: "Traffic and credentials cross the network in the clear.",
    fix: "Add spec.tls with a certificate secret for the hosts.",
    passes: ({ object }) => object.spec?.tls !== undefined && object.spec?.tls !== null,
  },
  {
    id: "sensitiveContainerEnvVar",
    category: "Security",
    severity: "high",
    target: "Container",
    includeInit: true,
    description: "A secret is written into an environment variable in plain text.",
    why: "Anyone who can read the workload's spec can read the secret, and it lands in logs and dumps.",
    fix: "Move the value into a Secret and reference it with valueFrom.secretKeyRef.",
    passes: ({ container }) =>
      !(container?.env ?? []).some(
        (e: Obj) =>
          e.value !== undefined &&
          e.value !== null &&
          (sensitiveName(String(e.name)) || PRIVATE_KEY.test(String(e.value))),
      ),
  },
  {
    id: "sensitiveConfigmapContent",
    category: "Security",
    severity: "high",
    target: { kind: "ConfigMap" },
    description: "A ConfigMap holds what looks like a secret.",
    why: "ConfigMaps are not meant for secrets: they are widely readable and never encrypted at rest.",
    fix: "Move the value into a Secret.",
    passes: ({ object }) =>
      !Object.entries(object.data ?? {}).some(([k, v]) => sensitiveName(k) || PRIVATE_KEY.test(String(v))),
  },
  {
    id: "clusterrolePodExecAttach",
    category: "Security",
    severity: "high",
    target: { kind: "ClusterRole" },
    description: "The ClusterRole lets its holders exec into or attach to pods.",
    why: "exec and attach run commands inside any pod it covers, reading its secrets and acting as it.",
    fix: "Remove pods/exec and pods/attach (and wildcards) from the role's rules.",
    passes: ({ object }) => {
      const name = object.metadata?.name ?? "";
      if (["admin", "cluster-admin", "edit"].includes(name) || SYSTEM(name)) return true;
      return !allowsExecOrAttach(object);
    },
  },
  {
    id: "rolePodExecAttach",
    category: "Security",
    severity: "high",
    target: { kind: "Role" },
    description: "The Role lets its holders exec into or attach to pods.",
    why: "exec and attach run commands inside the namespace's pods, reading their secrets and acting as them.",
    fix: "Remove pods/exec and pods/attach (and wildcards) from the role's rules.",
    passes: ({ object }) => SYSTEM(object.metadata?.name ?? "") || !allowsExecOrAttach(object),
  },
  {
    id: "clusterrolebindingPodExecAttach",
    category: "Security",
    severity: "high",
    target: { kind: "ClusterRoleBinding" },
    description: "The binding grants exec or attach on pods, or refers to a ClusterRole that is not there.",
    why: "Its subjects can run commands inside pods across the cluster.",
    fix: "Bind a role without pods/exec or pods/attach.",
    crossObject: true,
    passes: ({ object }, context) =>
      bindingPasses(object, context, "ClusterRole", allowsExecOrAttach, execExempt),
  },
  {
    id: "rolebindingClusterRolePodExecAttach",
    category: "Security",
    severity: "high",
    target: { kind: "RoleBinding" },
    description:
      "The binding grants exec or attach on pods through a ClusterRole, or refers to one that is not there.",
    why: "Its subjects can run commands inside the namespace's pods.",
    fix: "Bind a role without pods/exec or pods/attach.",
    crossObject: true,
    passes: ({ object }, context) =>
      bindingPasses(object, context, "ClusterRole", allowsExecOrAttach, execExempt),
  },
  {
    id: "rolebindingRolePodExecAttach",
    category: "Security",
    severity: "high",
    target: { kind: "RoleBinding" },
    description:
      "The binding grants exec or attach on pods through a Role, or refers to one that is not there.",
    why: "Its subjects can run commands inside the namespace's pods.",
    fix: "Bind a role without pods/exec or pods/attach.",
    crossObject: true,
    passes: ({ object }, context) => bindingPasses(object, context, "Role", allowsExecOrAttach, execExempt),
  },
  {
    id: "clusterrolebindingClusterAdmin",
    category: "Security",
    severity: "critical",
    target: { kind: "ClusterRoleBinding" },
    description: "The binding makes its subjects cluster administrators.",
    why: "They can read every secret and change anything in the cluster.",
    fix: "Bind a role with only the permissions the subjects need.",
    crossObject: true,
    passes: ({ object }, context) =>
      bindingPasses(object, context, "ClusterRole", clusterAdminGrant(object.roleRef ?? {}), adminExempt),
  },
  {
    id: "rolebindingClusterAdminClusterRole",
    category: "Security",
    severity: "high",
    target: { kind: "RoleBinding" },
    description: "The binding gives its subjects every permission in the namespace through a ClusterRole.",
    why: "They can read the namespace's secrets and change anything in it.",
    fix: "Bind a role with only the permissions the subjects need.",
    crossObject: true,
    passes: ({ object }, context) =>
      bindingPasses(object, context, "ClusterRole", clusterAdminGrant(object.roleRef ?? {}), adminExempt),
  },
  {
    id: "rolebindingClusterAdminRole",
    category: "Security",
    severity: "high",
    target: { kind: "RoleBinding" },
    description: "The binding gives its subjects every permission in the namespace through a Role.",
    why: "They can read the namespace's secrets and change anything in it.",
    fix: "Bind a role with only the permissions the subjects need.",
    crossObject: true,
    passes: ({ object }, context) => bindingPasses(object, context, "Role", grantsEverything, adminExempt),
  },
];

export interface Finding {
  rule: string;
  severity: Severity;
  category: Category;
  passed: boolean;
  kind: string;
  namespace: string;
  name: string;
  container?: string;
  /** What the finding says: the rule's description, or what exactly failed where the rule can tell. */
  message: string;
}

/** The subjects a rule looks at in a set of objects. */
export function subjectsOf(
  rule: Pick<AuditRule, "target" | "includeInit" | "skipJobs">,
  objects: Obj[],
): Subject[] {
  const target = rule.target;
  if (target === "Object") return objects.map((object) => ({ object }));
  if (typeof target === "object")
    return objects.filter((o) => o.kind === target.kind).map((object) => ({ object }));
  const workloads = objects.filter(
    (o) =>
      WORKLOAD_KINDS.includes(o.kind) &&
      !controlledByWorkload(o) &&
      !(rule.skipJobs && (o.kind === "Job" || o.kind === "CronJob")),
  );
  if (target === "Controller")
    return workloads.map((object) => ({
      object,
      ...(podTemplate(object) ? { pod: podTemplate(object)! } : {}),
    }));
  return workloads.flatMap((object) => {
    const pod = podTemplate(object);
    if (!pod) return [];
    if (target !== "Container") return [{ object, pod }];
    return [
      ...(pod.spec.containers ?? []).map((container: Obj) => ({ object, pod, container })),
      ...(rule.includeInit
        ? (pod.spec.initContainers ?? []).map((container: Obj) => ({ object, pod, container, init: true }))
        : []),
    ];
  });
}

/**
 * Runs rules over a set of objects (one cluster's, or one namespace's); one finding per subject.
 * Exempt objects are left out.
 */
export function audit(
  objects: Obj[],
  rules: AuditRule[] = AUDIT_RULES,
  config: InsightConfig = {},
): Finding[] {
  const context = { objects };
  return configuredRules(rules, config).flatMap((rule) =>
    subjectsOf(rule, objects)
      .filter((subject) => !isExempt(subject.object, rule.id, config))
      .map((subject) => {
        const passed = rule.passes(subject, context);
        return {
          rule: rule.id,
          severity: rule.severity,
          category: rule.category,
          passed,
          kind: subject.object.kind,
          namespace: namespaceOf(subject.object),
          name: subject.object.metadata?.name ?? "",
          ...(subject.container ? { container: subject.container.name } : {}),
          message: (!passed && rule.detail?.(subject)) || rule.description,
        };
      }),
  );
}

/** Exempts objects by namespace and name, from all rules or from some. */
export interface Exemption {
  namespace?: string;
  names?: string[];
  rules?: string[];
}

/** A fleet's own rule: a JSON Schema that objects of the target kinds must satisfy (Polaris's format). */
export interface CustomRuleDefinition {
  target: string;
  schema: Obj;
  category?: string;
  severity?: Severity;
  successMessage?: string;
  failureMessage?: string;
  containers?: { exclude?: string[] };
  /** What the rule checks, why it matters and how to fix it; Polaris's messages stand in when absent. */
  description?: string;
  why?: string;
  fix?: string;
}

/** How a fleet tunes the rules: turn some off, change severities, exempt objects, add its own. */
export interface InsightConfig {
  disabled?: string[];
  severity?: Record<string, Severity>;
  exemptions?: Exemption[];
  /** Rules written as JSON Schema, keyed by rule id; they run beside the built-in ones. */
  customRules?: Record<string, CustomRuleDefinition>;
}

export const EXEMPT_ANNOTATION = "atoll.dev/exempt";

/**
 * Whether an object is exempt from a rule: by the config (namespace and name, all rules or some),
 * by the annotation atoll.dev/exempt=true (all rules) or atoll.dev/<rule>-exempt=true (one).
 */
export function isExempt(object: Obj, rule: string, config: InsightConfig = {}): boolean {
  const annotations = object.metadata?.annotations ?? {};
  if (annotations[EXEMPT_ANNOTATION] === "true" || annotations[`atoll.dev/${rule}-exempt`] === "true")
    return true;
  return (config.exemptions ?? []).some(
    (e) =>
      (e.namespace === undefined || e.namespace === namespaceOf(object)) &&
      (e.names === undefined || e.names.includes(object.metadata?.name)) &&
      (e.rules === undefined || e.rules.includes(rule)),
  );
}

/** The rules as configured: disabled ones left out, severities overridden. */
export function configuredRules(rules: AuditRule[], config: InsightConfig = {}): AuditRule[] {
  return rules
    .filter((r) => !(config.disabled ?? []).includes(r.id))
    .map((r) => (config.severity?.[r.id] ? { ...r, severity: config.severity[r.id]! } : r));
}
