/**
 * API versions Kubernetes has stopped serving, by the release that removed them, from the
 * project's deprecation guide. Objects still written against them cannot be applied to a current
 * cluster, and an old cluster serving them cannot be upgraded past that release until they move.
 */
interface Removal {
  removedIn: string;
  /** The apiVersion to move to; absent when the API has no successor. */
  replacement?: string;
  /** What to use instead when there is no successor API. */
  instead?: string;
}

const REMOVALS: [apiVersion: string, kinds: string[], removal: Removal][] = [
  [
    "extensions/v1beta1",
    ["Deployment", "DaemonSet", "ReplicaSet"],
    { removedIn: "1.16", replacement: "apps/v1" },
  ],
  ["apps/v1beta1", ["Deployment", "StatefulSet"], { removedIn: "1.16", replacement: "apps/v1" }],
  [
    "apps/v1beta2",
    ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
    { removedIn: "1.16", replacement: "apps/v1" },
  ],
  ["extensions/v1beta1", ["NetworkPolicy"], { removedIn: "1.16", replacement: "networking.k8s.io/v1" }],
  ["extensions/v1beta1", ["Ingress"], { removedIn: "1.22", replacement: "networking.k8s.io/v1" }],
  [
    "extensions/v1beta1",
    ["PodSecurityPolicy"],
    { removedIn: "1.16", instead: "Pod Security Admission (namespace labels pod-security.kubernetes.io/*)" },
  ],
  [
    "admissionregistration.k8s.io/v1beta1",
    ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"],
    { removedIn: "1.22", replacement: "admissionregistration.k8s.io/v1" },
  ],
  [
    "apiextensions.k8s.io/v1beta1",
    ["CustomResourceDefinition"],
    { removedIn: "1.22", replacement: "apiextensions.k8s.io/v1" },
  ],
  [
    "apiregistration.k8s.io/v1beta1",
    ["APIService"],
    { removedIn: "1.22", replacement: "apiregistration.k8s.io/v1" },
  ],
  [
    "authentication.k8s.io/v1beta1",
    ["TokenReview"],
    { removedIn: "1.22", replacement: "authentication.k8s.io/v1" },
  ],
  [
    "authorization.k8s.io/v1beta1",
    ["SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview"],
    { removedIn: "1.22", replacement: "authorization.k8s.io/v1" },
  ],
  [
    "certificates.k8s.io/v1beta1",
    ["CertificateSigningRequest"],
    { removedIn: "1.22", replacement: "certificates.k8s.io/v1" },
  ],
  ["coordination.k8s.io/v1beta1", ["Lease"], { removedIn: "1.22", replacement: "coordination.k8s.io/v1" }],
  [
    "networking.k8s.io/v1beta1",
    ["Ingress", "IngressClass"],
    { removedIn: "1.22", replacement: "networking.k8s.io/v1" },
  ],
  [
    "rbac.authorization.k8s.io/v1beta1",
    ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    { removedIn: "1.22", replacement: "rbac.authorization.k8s.io/v1" },
  ],
  [
    "scheduling.k8s.io/v1beta1",
    ["PriorityClass"],
    { removedIn: "1.22", replacement: "scheduling.k8s.io/v1" },
  ],
  [
    "storage.k8s.io/v1beta1",
    ["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    { removedIn: "1.22", replacement: "storage.k8s.io/v1" },
  ],
  ["batch/v1beta1", ["CronJob"], { removedIn: "1.25", replacement: "batch/v1" }],
  ["discovery.k8s.io/v1beta1", ["EndpointSlice"], { removedIn: "1.25", replacement: "discovery.k8s.io/v1" }],
  ["events.k8s.io/v1beta1", ["Event"], { removedIn: "1.25", replacement: "events.k8s.io/v1" }],
  ["autoscaling/v2beta1", ["HorizontalPodAutoscaler"], { removedIn: "1.25", replacement: "autoscaling/v2" }],
  ["policy/v1beta1", ["PodDisruptionBudget"], { removedIn: "1.25", replacement: "policy/v1" }],
  [
    "policy/v1beta1",
    ["PodSecurityPolicy"],
    { removedIn: "1.25", instead: "Pod Security Admission (namespace labels pod-security.kubernetes.io/*)" },
  ],
  ["node.k8s.io/v1beta1", ["RuntimeClass"], { removedIn: "1.25", replacement: "node.k8s.io/v1" }],
  ["autoscaling/v2beta2", ["HorizontalPodAutoscaler"], { removedIn: "1.26", replacement: "autoscaling/v2" }],
  [
    "flowcontrol.apiserver.k8s.io/v1beta1",
    ["FlowSchema", "PriorityLevelConfiguration"],
    { removedIn: "1.26", replacement: "flowcontrol.apiserver.k8s.io/v1" },
  ],
  ["storage.k8s.io/v1beta1", ["CSIStorageCapacity"], { removedIn: "1.27", replacement: "storage.k8s.io/v1" }],
  [
    "flowcontrol.apiserver.k8s.io/v1beta2",
    ["FlowSchema", "PriorityLevelConfiguration"],
    { removedIn: "1.29", replacement: "flowcontrol.apiserver.k8s.io/v1" },
  ],
  [
    "flowcontrol.apiserver.k8s.io/v1beta3",
    ["FlowSchema", "PriorityLevelConfiguration"],
    { removedIn: "1.32", replacement: "flowcontrol.apiserver.k8s.io/v1" },
  ],
];

const REMOVED = new Map(
  REMOVALS.flatMap(([apiVersion, kinds, removal]) =>
    kinds.map((kind) => [`${apiVersion}/${kind}`, removal] as const),
  ),
);

/** Why an object's apiVersion and kind can no longer be served, and what to use; undefined when it can. */
export function removedApi(apiVersion: unknown, kind: unknown): string | undefined {
  const removal = REMOVED.get(`${String(apiVersion)}/${String(kind)}`);
  if (!removal) return undefined;
  const use = removal.replacement ? `move it to apiVersion ${removal.replacement}` : `use ${removal.instead}`;
  return `${kind} in ${apiVersion} is no longer served since Kubernetes ${removal.removedIn}; ${use}.`;
}
