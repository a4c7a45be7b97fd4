/** Built-in resource types: what the sim serves in discovery and what an agent syncs by default. */
export interface ResourceType {
  group: string;
  version: string;
  /** Plural name used in URLs. */
  resource: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Kubernetes categories, e.g. "all" for `kubectl get all`. */
  categories: string[];
}

export const STANDARD_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

const t = (
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[] = [],
  categories: string[] = [],
): ResourceType => ({ group, version, resource, kind, namespaced, shortNames, categories });

export const BUILTIN_RESOURCE_TYPES: readonly ResourceType[] = [
  t("", "v1", "namespaces", "Namespace", false, ["ns"]),
  t("", "v1", "nodes", "Node", false, ["no"]),
  t("", "v1", "pods", "Pod", true, ["po"], ["all"]),
  t("", "v1", "services", "Service", true, ["svc"], ["all"]),
  t("", "v1", "endpoints", "Endpoints", true, ["ep"]),
  t("", "v1", "configmaps", "ConfigMap", true, ["cm"]),
  t("", "v1", "secrets", "Secret", true),
  t("", "v1", "serviceaccounts", "ServiceAccount", true, ["sa"]),
  t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, ["pvc"]),
  t("", "v1", "persistentvolumes", "PersistentVolume", false, ["pv"]),
  t("", "v1", "events", "Event", true, ["ev"]),
  t("", "v1", "limitranges", "LimitRange", true, ["limits"]),
  t("", "v1", "resourcequotas", "ResourceQuota", true, ["quota"]),
  t("", "v1", "replicationcontrollers", "ReplicationController", true, ["rc"], ["all"]),
  t("apps", "v1", "deployments", "Deployment", true, ["deploy"], ["all"]),
  t("apps", "v1", "replicasets", "ReplicaSet", true, ["rs"], ["all"]),
  t("apps", "v1", "statefulsets", "StatefulSet", true, ["sts"], ["all"]),
  t("apps", "v1", "daemonsets", "DaemonSet", true, ["ds"], ["all"]),
  t("batch", "v1", "jobs", "Job", true, [], ["all"]),
  t("batch", "v1", "cronjobs", "CronJob", true, ["cj"], ["all"]),
  t("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, ["hpa"], ["all"]),
  t("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, ["pdb"]),
  t("networking.k8s.io", "v1", "ingresses", "Ingress", true, ["ing"]),
  t("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false),
  t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, ["netpol"]),
  t("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, ["sc"]),
  t("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
  t(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    false,
  ),
  t(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration",
    false,
  ),
  t("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, [
    "crd",
    "crds",
  ]),
];

export function apiVersionOf(type: Pick<ResourceType, "group" | "version">): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** "group/version/resource", with "" group written as "v1/pods" style; the heartbeat's API list format. */
export function gvrKey(type: Pick<ResourceType, "group" | "version" | "resource">): string {
  return `${apiVersionOf(type)}/${type.resource}`;
}
