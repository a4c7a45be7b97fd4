/**
 * Why each runtime finding matters and what to do about it, for the offline answers (no
 * language model) and for anyone reading a finding: the audit rules carry their own.
 */
export const DIAGNOSIS_GUIDE: Record<string, { why: string; fix: string }> = {
  ContainerCrashLooping: {
    why: "The container keeps exiting soon after it starts, and the kubelet waits longer before each restart.",
    fix: "Read the previous run's logs (kubectl logs --previous) and its exit code; fix the command, configuration or dependency that makes it exit.",
  },
  ContainerOOMKilled: {
    why: "The container used more memory than its limit and the kernel killed it.",
    fix: "Raise the memory limit to what the workload really needs, or lower its memory use; look for a leak under load.",
  },
  ContainerImagePullFailed: {
    why: "The node cannot fetch the image, so the container never starts.",
    fix: "Check that the image name and tag exist and that the pod can authenticate to the registry (imagePullSecrets).",
  },
  ContainerConfigError: {
    why: "The container refers to a ConfigMap, Secret or key that does not exist, so it cannot be created.",
    fix: "Create the missing ConfigMap or Secret (or key), or correct the reference in the pod template.",
  },
  ContainerStartFailed: {
    why: "The runtime could not create or start the container, or one of its hooks failed.",
    fix: "Read the waiting message and the pod's events; check the command, the hooks and the security settings.",
  },
  ContainerTerminatedWithError: {
    why: "The container ended with a non-zero exit code.",
    fix: "Read its logs and exit code; a Job's pod should exit 0 when its work is done.",
  },
  PodFailedMount: {
    why: "A volume could not be attached or mounted, so the pod stays in ContainerCreating.",
    fix: "Read the FailedMount event: check that the claim, Secret or ConfigMap exists and that the volume is not attached elsewhere.",
  },
  PodSandboxFailed: {
    why: "The node could not set up the pod's network sandbox.",
    fix: "Check the node's CNI plugin and IP address pool; the FailedCreatePodSandBox event says what failed.",
  },
  PodUnschedulable: {
    why: "No node satisfies the pod's requests, selectors, affinities and tolerations.",
    fix: "Compare the pod's requests, node selectors, affinities and tolerations with the nodes' free capacity and taints; add capacity or relax the constraints.",
  },
  PodSchedulingGated: {
    why: "The pod carries scheduling gates, and the scheduler waits until every gate is removed.",
    fix: "Find the controller that should remove the gates (spec.schedulingGates) and why it has not.",
  },
  PodEvicted: {
    why: "The kubelet evicted the pod because its node ran short of memory, disk or process IDs.",
    fix: "Set requests that match real use, and check the node's pressure conditions; delete evicted pods once understood.",
  },
  ProbeFailing: {
    why: "The readiness or liveness probe fails, so the pod receives no traffic or is restarted.",
    fix: "Check the probe's path, port and timing against how long the application takes to become ready.",
  },
  DeploymentNotReady: {
    why: "Fewer replicas are ready than the Deployment asks for, so it serves with less capacity than intended.",
    fix: "Look at the pods of its newest ReplicaSet: their states and events say why they are not ready.",
  },
  DeploymentNotProgressing: {
    why: "The rollout made no progress within progressDeadlineSeconds.",
    fix: "Inspect the new ReplicaSet's pods, then fix the template or roll back (kubectl rollout undo).",
  },
  DaemonSetNotReady: {
    why: "Some nodes that should run the DaemonSet's pod do not have a ready one.",
    fix: "Look at the DaemonSet's pods on those nodes: taints, resources or image problems keep them from running.",
  },
  ReplicaSetFailedCreate: {
    why: "The ReplicaSet could not create its pods.",
    fix: "Read the condition's message: a quota, an admission webhook or a missing ServiceAccount are the usual causes.",
  },
  StatefulSetPodNotRunning: {
    why: "A StatefulSet creates its pods in order, so one pod that does not run holds back the ones after it.",
    fix: "Fix the pod named in the finding first; its events and container states say why it does not run.",
  },
  StatefulSetServiceMissing: {
    why: "The governing Service named by serviceName does not exist, so the pods get no stable network identity.",
    fix: "Create the headless Service the StatefulSet names, or correct spec.serviceName.",
  },
  StatefulSetStorageClassMissing: {
    why: "A volume claim template names a StorageClass that does not exist, so its claims cannot be provisioned.",
    fix: "Create the StorageClass or name an existing one in the volume claim template.",
  },
  JobFailed: {
    why: "The Job reached its backoff limit or deadline without completing.",
    fix: "Read the failed pods' logs; raise backoffLimit only once the cause is fixed.",
  },
  JobSuspended: {
    why: "The Job is suspended, so it starts no pods.",
    fix: "Set spec.suspend to false when it should run.",
  },
  CronJobSuspended: {
    why: "The CronJob is suspended, so no scheduled run starts.",
    fix: "Set spec.suspend to false when it should run again.",
  },
  CronJobInvalidSchedule: {
    why: "The schedule is not a valid cron expression, so the CronJob never runs.",
    fix: "Correct spec.schedule (five fields, or a macro such as @hourly).",
  },
  CronJobNegativeDeadline: {
    why: "A negative startingDeadlineSeconds makes every run count as missed.",
    fix: "Set startingDeadlineSeconds to a positive number of seconds, or remove it.",
  },
  PVCProvisioningFailed: {
    why: "The claim stays Pending: its volume could not be provisioned or bound.",
    fix: "Check the StorageClass, its provisioner's events and the requested size and access mode.",
  },
  ServiceSelectsNoPods: {
    why: "The Service's selector matches no pod, so it has no endpoints and its clients fail.",
    fix: "Make the selector match the labels of the pods it should reach.",
  },
  ServiceOnlyUnreadyPods: {
    why: "Every pod behind the Service is unready, so it has no endpoint to send traffic to.",
    fix: "Fix the pods' readiness first; the Service follows.",
  },
  IngressClassMissing: {
    why: "The Ingress names an IngressClass that does not exist, so no controller serves it.",
    fix: "Create the IngressClass or name an existing one in spec.ingressClassName.",
  },
  IngressClassUnset: {
    why: "The Ingress names no class and the cluster has no default, so no controller may pick it up.",
    fix: "Set spec.ingressClassName, or mark one IngressClass as the default.",
  },
  IngressServiceMissing: {
    why: "A rule sends traffic to a Service that does not exist, so those requests fail.",
    fix: "Create the Service or correct the backend's service name.",
  },
  IngressSecretMissing: {
    why: "The TLS Secret the Ingress names does not exist, so the controller cannot serve HTTPS for it.",
    fix: "Create the Secret (or have cert-manager issue it), or correct spec.tls[].secretName.",
  },
  HPATargetMissing: {
    why: "The HorizontalPodAutoscaler scales a workload that does not exist.",
    fix: "Correct scaleTargetRef, or delete the autoscaler.",
  },
  HPAUnableToScale: {
    why: "The autoscaler cannot read its metrics or its target, so it does not scale.",
    fix: "Check that the metrics server (or adapter) serves the HPA's metrics and that the target exists.",
  },
  HPAScalingLimited: {
    why: "The autoscaler wants more or fewer replicas than its bounds allow.",
    fix: "Raise maxReplicas (or lower minReplicas) if the load is real, or look at why demand is so high.",
  },
  PDBBlocksDisruption: {
    why: "The PodDisruptionBudget allows no voluntary eviction, so node drains and upgrades stall.",
    fix: "Add replicas or relax minAvailable / maxUnavailable before draining nodes.",
  },
  NodeNotReady: {
    why: "The node does not report Ready, so no new pods are scheduled there and its pods may be evicted.",
    fix: "Check the kubelet and container runtime on the node, its network and its resources.",
  },
  NodePressure: {
    why: "The node reports memory, disk or process pressure and evicts pods to recover.",
    fix: "Free the resource on the node or move workloads away; set requests that match real use.",
  },
  ImagePullSecretMissing: {
    why: "The pod names an imagePullSecret that does not exist, so pulls from a private registry fail.",
    fix: "Create the Secret in the pod's namespace or correct imagePullSecrets.",
  },
  WebhookServiceMissing: {
    why: "An admission webhook points at a Service that does not exist, so API requests it covers fail or skip it.",
    fix: "Restore the webhook's Service, or delete the webhook configuration if it is no longer used.",
  },
  WebhookNoPods: {
    why: "The webhook's Service selects no pods, so calls to the webhook fail.",
    fix: "Bring the webhook's pods back, or fix the Service's selector.",
  },
  WebhookPodInactive: {
    why: "The webhook's pods exist but none is running and ready, so calls to the webhook fail.",
    fix: "Fix the webhook's pods; until then, requests it covers may be refused.",
  },
  ConfigMapMissing: {
    why: "A workload mounts or reads a ConfigMap that does not exist, so its pods cannot start.",
    fix: "Create the ConfigMap in the workload's namespace, or mark the reference optional.",
  },
  SecretMissing: {
    why: "A workload mounts or reads a Secret that does not exist, so its pods cannot start.",
    fix: "Create the Secret in the workload's namespace, or mark the reference optional.",
  },
  PersistentVolumeClaimMissing: {
    why: "A workload mounts a claim that does not exist, so its pods stay Pending.",
    fix: "Create the PersistentVolumeClaim, or correct the volume's claimName.",
  },
  ServiceAccountMissing: {
    why: "A workload runs as a ServiceAccount that does not exist, so its pods are refused at creation.",
    fix: "Create the ServiceAccount in the workload's namespace, or correct serviceAccountName.",
  },
};
