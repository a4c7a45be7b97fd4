import { AUDIT_RULES, audit, type InsightConfig, isExempt, type Severity } from "./audit.js";
import { auditRules } from "./custom.js";
import { namespaceOf, type Obj, podTemplate, WORKLOAD_KINDS } from "./objects.js";
import { references } from "./topology.js";

/** A problem found in an object's status or events, with what to do about it. */
export interface Diagnosis {
  rule: string;
  severity: Severity;
  kind: string;
  namespace: string;
  name: string;
  message: string;
}

/** Events of one cluster, indexed by the object they are about. */
export class EventIndex {
  private readonly byObject = new Map<string, Obj[]>();

  constructor(events: Obj[]) {
    for (const event of events) {
      const o = event.involvedObject ?? event.regarding ?? {};
      const key = `${o.kind}/${o.namespace ?? ""}/${o.name}`;
      this.byObject.set(key, [...(this.byObject.get(key) ?? []), event]);
    }
  }

  /** When an event last happened: the latest of lastTimestamp, eventTime and series.lastObservedTime. */
  static lastSeen(event: Obj): number {
    return Math.max(
      ...[
        event.lastTimestamp,
        event.eventTime,
        event.series?.lastObservedTime,
        event.metadata?.creationTimestamp,
      ]
        .filter(Boolean)
        .map((t) => Date.parse(t)),
      0,
    );
  }

  /**
   * Events about an object, matched by kind, namespace and name, newest first. An event that
   * names a uid must name this object's: a StatefulSet's pod comes back under the same name,
   * and what happened to the one before is not this one's problem.
   */
  of(object: Obj): Obj[] {
    const uid = object.metadata?.uid;
    return (this.byObject.get(`${object.kind}/${namespaceOf(object)}/${object.metadata?.name}`) ?? [])
      .filter((event) => {
        const about = (event.involvedObject ?? event.regarding)?.uid;
        return !about || !uid || about === uid;
      })
      .sort((a, b) => EventIndex.lastSeen(b) - EventIndex.lastSeen(a));
  }

  latest(object: Obj, reasons?: string[]): Obj | undefined {
    return this.of(object).find((e) => !reasons || reasons.includes(e.reason));
  }
}

interface Context {
  /** Only the object itself is known: rules that need other objects stay silent. */
  single: boolean;
  objects: Obj[];
  events: EventIndex;
  find(kind: string, namespace: string, name: string): Obj | undefined;
  ofKind(kind: string, namespace?: string): Obj[];
}

type Rule = (object: Obj, context: Context) => Omit<Diagnosis, "kind" | "namespace" | "name">[];

const WAITING_REASONS = [
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "CreateContainerConfigError",
  "PreCreateHookError",
  "CreateContainerError",
  "PreStartHookError",
  "RunContainerError",
  "ImageInspectError",
  "ErrImagePull",
  "ErrImageNeverPull",
  "InvalidImageName",
];

const condition = (o: Obj, type: string) => (o.status?.conditions ?? []).find((c: Obj) => c.type === type);
const matches = (selector: Obj | undefined, labels: Obj | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
const podsSelectedBy = (context: Context, namespace: string, selector: Obj | undefined) =>
  Object.keys(selector ?? {}).length === 0
    ? []
    : context.ofKind("Pod", namespace).filter((p) => matches(selector, p.metadata?.labels));

/** Status and event rules per kind, after k8sgpt's analyzers, with events matched by kind too. */
const RULES: Record<string, Rule[]> = {
  Pod: [
    (pod) => {
      const scheduled = condition(pod, "PodScheduled");
      if (pod.status?.phase !== "Pending" || scheduled?.status !== "False") return [];
      if (scheduled.reason === "Unschedulable" && scheduled.message)
        return [{ rule: "PodUnschedulable", severity: "high", message: scheduled.message }];
      if (scheduled.reason === "SchedulingGated")
        return [
          {
            rule: "PodSchedulingGated",
            severity: "medium",
            message:
              scheduled.message ||
              `Pod ${namespaceOf(pod)}/${pod.metadata.name} is blocked from scheduling by its scheduling gates`,
          },
        ];
      return [];
    },
    (pod) =>
      pod.status?.reason === "Evicted"
        ? [
            {
              rule: "PodEvicted",
              severity: "medium",
              message: pod.status.message || `Pod ${pod.metadata.name} has been evicted`,
            },
          ]
        : [],
    (pod, context) => {
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      for (const status of [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ] as Obj[]) {
        const waiting = status.state?.waiting;
        const lastTerminated = status.lastState?.terminated;
        if (waiting?.reason === "CrashLoopBackOff" && lastTerminated) {
          found.push({
            rule: lastTerminated.reason === "OOMKilled" ? "ContainerOOMKilled" : "ContainerCrashLooping",
            severity: "high",
            message: `the last termination reason is ${lastTerminated.reason ?? "Unknown"} (exit code ${lastTerminated.exitCode ?? "?"}) container=${status.name} pod=${pod.metadata.name}`,
          });
        } else if (waiting && WAITING_REASONS.includes(waiting.reason) && waiting.message) {
          found.push({
            rule: /Image|InvalidImageName/.test(waiting.reason)
              ? "ContainerImagePullFailed"
              : /Config/.test(waiting.reason)
                ? "ContainerConfigError"
                : "ContainerStartFailed",
            severity: "high",
            message: waiting.message,
          });
        } else if (waiting?.reason === "ContainerCreating" && pod.status?.phase === "Pending") {
          const event = context.events.latest(pod, ["FailedCreatePodSandBox", "FailedMount"]);
          if (event)
            found.push({
              rule: event.reason === "FailedMount" ? "PodFailedMount" : "PodSandboxFailed",
              severity: "high",
              message: event.message,
            });
        }
        const terminated = status.state?.terminated;
        if (terminated && terminated.exitCode !== 0 && terminated.exitCode !== undefined)
          found.push({
            rule: terminated.reason === "OOMKilled" ? "ContainerOOMKilled" : "ContainerTerminatedWithError",
            severity: "medium",
            message: `the termination reason is ${terminated.reason || "Unknown"} exitCode=${terminated.exitCode} container=${status.name} pod=${pod.metadata.name}`,
          });
        if (status.state?.running && status.ready === false && pod.status?.phase === "Running") {
          const event = context.events.latest(pod, ["Unhealthy"]);
          if (event) found.push({ rule: "ProbeFailing", severity: "medium", message: event.message });
        }
      }
      return found;
    },
  ],
  Deployment: [
    (d) => {
      const desired = d.spec?.replicas ?? 1;
      const ready = d.status?.readyReplicas ?? 0;
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      if (desired !== ready)
        found.push({
          rule: "DeploymentNotReady",
          severity: ready === 0 && desired > 0 ? "high" : "medium",
          message: `Deployment ${namespaceOf(d)}/${d.metadata.name} has ${desired} replicas but ${ready} are ready`,
        });
      const progressing = condition(d, "Progressing");
      if (progressing?.status === "False")
        found.push({
          rule: "DeploymentNotProgressing",
          severity: "high",
          message: `Deployment ${namespaceOf(d)}/${d.metadata.name} has condition Progressing=False, reason ${progressing.reason}: ${progressing.message}`,
        });
      return found;
    },
  ],
  ReplicaSet: [
    (rs) => {
      const failure = condition(rs, "ReplicaFailure");
      return (rs.status?.replicas ?? 0) < (rs.spec?.replicas ?? 0) && failure?.reason === "FailedCreate"
        ? [{ rule: "ReplicaSetFailedCreate", severity: "high", message: failure.message }]
        : [];
    },
  ],
  StatefulSet: [
    (sts, context) => {
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      const ns = namespaceOf(sts);
      if (context.single) return found;
      if (!context.find("Service", ns, sts.spec?.serviceName ?? ""))
        found.push({
          rule: "StatefulSetServiceMissing",
          severity: "high",
          message: `StatefulSet uses the service ${ns}/${sts.spec?.serviceName ?? ""} which does not exist.`,
        });
      for (const claim of sts.spec?.volumeClaimTemplates ?? []) {
        const sc = claim.spec?.storageClassName;
        if (sc && !context.find("StorageClass", "", sc))
          found.push({
            rule: "StatefulSetStorageClassMissing",
            severity: "high",
            message: `StatefulSet uses the storage class ${sc} which does not exist.`,
          });
      }
      if ((sts.spec?.replicas ?? 1) !== (sts.status?.availableReplicas ?? sts.status?.readyReplicas ?? 0)) {
        const stuck = Array.from({ length: sts.spec?.replicas ?? 1 }, (_, i) =>
          context.find("Pod", ns, `${sts.metadata.name}-${i}`),
        ).find((p) => p && p.status?.phase !== "Running");
        if (stuck)
          found.push({
            rule: "StatefulSetPodNotRunning",
            severity: "medium",
            message: `Statefulset pod ${stuck.metadata.name} in the namespace ${ns} is not in running state.`,
          });
      }
      return found;
    },
  ],
  DaemonSet: [
    (ds, context) => {
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      const { numberReady = 0, desiredNumberScheduled = 0 } = ds.status ?? {};
      if (numberReady < desiredNumberScheduled)
        found.push({
          rule: "DaemonSetNotReady",
          severity: "medium",
          message: `DaemonSet ${namespaceOf(ds)}/${ds.metadata.name} has ${numberReady} ready replicas out of ${desiredNumberScheduled} scheduled`,
        });
      for (const secret of context.single ? [] : (ds.spec?.template?.spec?.imagePullSecrets ?? []))
        if (!context.find("Secret", namespaceOf(ds), secret.name))
          found.push({
            rule: "ImagePullSecretMissing",
            severity: "high",
            message: `DaemonSet ${namespaceOf(ds)}/${ds.metadata.name} references non-existent ImagePullSecret ${secret.name}`,
          });
      return found;
    },
  ],
  Job: [
    (job, context) => {
      if (job.spec?.suspend === true)
        return [{ rule: "JobSuspended", severity: "info", message: `Job ${job.metadata.name} is suspended` }];
      const complete = ["Complete", "SuccessCriteriaMet"].some((t) => condition(job, t)?.status === "True");
      if ((job.status?.failed ?? 0) > 0 && !complete) {
        const event = context.events.latest(job, ["BackoffLimitExceeded"]);
        return [
          {
            rule: "JobFailed",
            severity: "high",
            message: event?.message ?? `Job ${job.metadata.name} has failed`,
          },
        ];
      }
      return [];
    },
  ],
  CronJob: [
    (cj) => {
      if (cj.spec?.suspend === true)
        return [
          { rule: "CronJobSuspended", severity: "info", message: `CronJob ${cj.metadata.name} is suspended` },
        ];
      if (!validCron(cj.spec?.schedule ?? ""))
        return [
          {
            rule: "CronJobInvalidSchedule",
            severity: "high",
            message: `CronJob ${cj.metadata.name} has an invalid schedule: ${cj.spec?.schedule ?? ""}`,
          },
        ];
      if ((cj.spec?.startingDeadlineSeconds ?? 0) < 0)
        return [
          {
            rule: "CronJobNegativeDeadline",
            severity: "medium",
            message: `CronJob ${cj.metadata.name} has a negative starting deadline`,
          },
        ];
      return [];
    },
  ],
  PersistentVolumeClaim: [
    (pvc, context) => {
      if (pvc.status?.phase !== "Pending") return [];
      const event = context.events.latest(pvc, ["ProvisioningFailed"]);
      return event ? [{ rule: "PVCProvisioningFailed", severity: "high", message: event.message }] : [];
    },
  ],
  Node: [
    (node) =>
      (node.status?.conditions ?? []).flatMap((c: Obj) => {
        const bad =
          c.type === "Ready"
            ? c.status !== "True"
            : ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"].includes(c.type) &&
              c.status !== "False";
        return bad
          ? [
              {
                rule: c.type === "Ready" ? "NodeNotReady" : "NodePressure",
                severity: c.type === "Ready" ? ("critical" as const) : ("high" as const),
                message: `${node.metadata.name} has condition of type ${c.type}, reason ${c.reason ?? ""}: ${c.message ?? ""}`,
              },
            ]
          : [];
      }),
  ],
  HorizontalPodAutoscaler: [
    (hpa, context) => {
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      for (const c of hpa.status?.conditions ?? []) {
        if (
          c.type === "ScalingLimited" &&
          c.status === "True" &&
          !(c.reason === "TooFewReplicas" && hpa.status?.desiredReplicas === hpa.spec?.minReplicas)
        )
          found.push({ rule: "HPAScalingLimited", severity: "medium", message: c.message });
        else if (c.type !== "ScalingLimited" && c.status === "False")
          found.push({ rule: "HPAUnableToScale", severity: "high", message: c.message });
      }
      const ref = hpa.spec?.scaleTargetRef ?? {};
      if (!context.single && !context.find(ref.kind, namespaceOf(hpa), ref.name))
        found.push({
          rule: "HPATargetMissing",
          severity: "high",
          message: `HorizontalPodAutoscaler uses ${ref.kind}/${ref.name} as ScaleTargetRef which does not exist.`,
        });
      return found;
    },
  ],
  PodDisruptionBudget: [
    (pdb) => {
      const allowed = condition(pdb, "DisruptionAllowed");
      return allowed?.status === "False" || pdb.status?.disruptionsAllowed === 0
        ? [
            {
              rule: "PDBBlocksDisruption",
              severity: "medium",
              message: `${allowed?.reason ?? "No disruptions allowed"}: no pod it covers may be evicted; drains will wait`,
            },
          ]
        : [];
    },
  ],
  Service: [
    (svc, context) => {
      if (context.single) return [];
      const selector = svc.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) return [];
      const pods = podsSelectedBy(context, namespaceOf(svc), selector);
      if (pods.length === 0)
        return [
          {
            rule: "ServiceSelectsNoPods",
            severity: "high",
            message: `Service selects no pods; expected labels ${Object.entries(selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")}`,
          },
        ];
      const unready = pods.filter((p) => condition(p, "Ready")?.status !== "True");
      return unready.length === pods.length
        ? [
            {
              rule: "ServiceOnlyUnreadyPods",
              severity: "high",
              message: `Service has only unready pods: ${unready.map((p) => p.metadata.name).join(", ")}`,
            },
          ]
        : [];
    },
  ],
  Ingress: [
    (ing, context) => {
      if (context.single) return [];
      const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
      const ns = namespaceOf(ing);
      const klass = ing.spec?.ingressClassName ?? ing.metadata?.annotations?.["kubernetes.io/ingress.class"];
      if (!klass)
        found.push({
          rule: "IngressClassUnset",
          severity: "medium",
          message: `Ingress ${ns}/${ing.metadata.name} does not specify an Ingress class.`,
        });
      else if (!["gce", "gce-internal"].includes(klass) && !context.find("IngressClass", "", klass))
        found.push({
          rule: "IngressClassMissing",
          severity: "high",
          message: `Ingress uses the ingress class ${klass} which does not exist.`,
        });
      for (const rule of ing.spec?.rules ?? [])
        for (const path of rule.http?.paths ?? []) {
          const name = path.backend?.service?.name;
          if (name && !context.find("Service", ns, name))
            found.push({
              rule: "IngressServiceMissing",
              severity: "high",
              message: `Ingress uses the service ${ns}/${name} which does not exist.`,
            });
        }
      for (const tls of ing.spec?.tls ?? [])
        if (tls.secretName && !context.find("Secret", ns, tls.secretName))
          found.push({
            rule: "IngressSecretMissing",
            severity: "high",
            message: `Ingress uses the secret ${ns}/${tls.secretName} as a TLS certificate which does not exist.`,
          });
      return found;
    },
  ],
  ValidatingWebhookConfiguration: [(w, c) => webhookRule(w, c, "Validating")],
  MutatingWebhookConfiguration: [(w, c) => webhookRule(w, c, "Mutating")],
};

function webhookRule(
  config: Obj,
  context: Context,
  what: string,
): Omit<Diagnosis, "kind" | "namespace" | "name">[] {
  if (context.single) return [];
  return (config.webhooks ?? []).flatMap((hook: Obj) => {
    const ref = hook.clientConfig?.service;
    if (!ref) return [];
    const svc = context.find("Service", ref.namespace ?? "", ref.name);
    if (!svc)
      return [
        {
          rule: "WebhookServiceMissing",
          severity: "critical" as const,
          message: `Service ${ref.namespace}/${ref.name} not found as mapped to by ${what} Webhook ${hook.name}`,
        },
      ];
    const pods = podsSelectedBy(context, ref.namespace ?? "", svc.spec?.selector);
    if (svc.spec?.selector && pods.length === 0)
      return [
        {
          rule: "WebhookNoPods",
          severity: "critical" as const,
          message: `No active pods found within service ${ref.namespace}/${ref.name} as mapped to by ${what} Webhook ${hook.name}`,
        },
      ];
    const dead = pods.find((p) => p.status?.phase !== "Running");
    return dead
      ? [
          {
            rule: "WebhookPodInactive",
            severity: "high" as const,
            message: `${what} Webhook (${hook.name}) is pointing to an inactive receiver pod (${dead.metadata.name})`,
          },
        ]
      : [];
  });
}

/** Five fields, each *, a number, range, list or step; or one of the @ shorthands. */
export function validCron(schedule: string): boolean {
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly|every \S+)$/.test(schedule.trim()))
    return true;
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const limits = [
    [0, 59],
    [0, 23],
    [1, 31],
    [1, 12],
    [0, 7],
  ];
  const names = /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i;
  return fields.every((field, i) =>
    field.split(",").every((part) => {
      const [range, step] = part.split("/");
      if (step !== undefined && !/^\d+$/.test(step)) return false;
      if (range === "*" || range === "?") return true;
      return range!
        .split("-")
        .every(
          (v) =>
            names.test(v) || (/^\d+$/.test(v) && Number(v) >= limits[i]![0]! && Number(v) <= limits[i]![1]!),
        );
    }),
  );
}

/**
 * Workloads that refer to a ConfigMap, Secret, PVC or ServiceAccount that does not exist in
 * their namespace: the pods will not start, or will start without what they expect.
 */
/** References a pod cannot start without; projected sources and pull secrets are not among them. */
const CHECKED_RELATIONS = new Set(["runs-as", "mounts", "env"]);

function missingReferences(
  workload: Obj,
  context: Context,
): Omit<Diagnosis, "kind" | "namespace" | "name">[] {
  const pod = podTemplate(workload);
  if (context.single || !pod || (workload.kind === "Pod" && workload.metadata?.ownerReferences?.length))
    return [];
  const ns = namespaceOf(workload);
  const found: Omit<Diagnosis, "kind" | "namespace" | "name">[] = [];
  for (const ref of references(workload)) {
    if (!CHECKED_RELATIONS.has(ref.relation) || ref.optional || context.find(ref.kind, ns, ref.name!))
      continue;
    found.push({
      rule: `${ref.kind}Missing`,
      severity: "high",
      message: `${workload.kind} ${ns}/${workload.metadata.name} refers to ${ref.kind} ${ref.name}, which does not exist`,
    });
  }
  return found;
}

/**
 * Runtime diagnosis over one cluster's objects and events: what is broken now, and why, from
 * status, the events about each object, and the objects it refers to.
 */
export function diagnose(
  objects: Obj[],
  events: Obj[] = [],
  options: { single?: boolean } = {},
): Diagnosis[] {
  const index = new Map<string, Obj>();
  // Grouped once, so rules that look up a kind in a namespace (a Service's pods, say) cost the
  // size of that group rather than a scan of the whole cluster per object.
  const byKind = new Map<string, Obj[]>();
  const byKindInNamespace = new Map<string, Obj[]>();
  const group = (groups: Map<string, Obj[]>, key: string, o: Obj) => {
    const members = groups.get(key);
    if (members) members.push(o);
    else groups.set(key, [o]);
  };
  for (const o of objects) {
    index.set(`${o.kind}/${namespaceOf(o)}/${o.metadata?.name}`, o);
    group(byKind, o.kind, o);
    group(byKindInNamespace, `${o.kind}/${namespaceOf(o)}`, o);
  }
  const context: Context = {
    single: options.single ?? false,
    objects,
    events: new EventIndex(events),
    find: (kind, namespace, name) =>
      index.get(`${kind}/${namespace}/${name}`) ?? index.get(`${kind}//${name}`),
    ofKind: (kind, namespace) =>
      (namespace === undefined ? byKind.get(kind) : byKindInNamespace.get(`${kind}/${namespace}`)) ?? [],
  };
  const results: Diagnosis[] = [];
  for (const object of objects) {
    const found = [
      ...(RULES[object.kind] ?? []).flatMap((rule) => rule(object, context)),
      ...(WORKLOAD_KINDS.includes(object.kind) ? missingReferences(object, context) : []),
    ];
    for (const f of found)
      results.push({
        ...f,
        kind: object.kind,
        namespace: namespaceOf(object),
        name: object.metadata?.name ?? "",
      });
  }
  return results;
}

/**
 * What can be judged from one object alone, as the indexer sees each change: its failed
 * single-object audit rules and its status-based diagnoses. Rules that read other objects run
 * over whole sets instead.
 */
export function objectIssues(
  object: Obj,
  config: InsightConfig = {},
): { rule: string; severity: Severity; category: string; message: string; container?: string }[] {
  const singleObjectRules = auditRules(config).filter((r) => !r.crossObject);
  const audited = audit([object], singleObjectRules, config)
    .filter((f) => !f.passed)
    .map((f) => ({
      rule: f.rule,
      severity: f.severity,
      category: f.category,
      message: f.message,
      ...(f.container ? { container: f.container } : {}),
    }));
  type Issue = { rule: string; severity: Severity; category: string; message: string; container?: string };
  const diagnosed: Issue[] = diagnose([object], [], { single: true })
    .filter((d) => !(config.disabled ?? []).includes(d.rule) && !isExempt(object, d.rule, config))
    .map((d) => ({
      rule: d.rule,
      severity: config.severity?.[d.rule] ?? d.severity,
      category: "Runtime",
      message: d.message,
    }));
  // One row per rule and container: a rule that fires twice on an object keeps its first message.
  const seen = new Set<string>();
  return [...(audited as Issue[]), ...diagnosed].filter((i) => {
    const key = `${i.rule}/${i.container ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Diagnoses that need other objects or events; the periodic pass over a whole cluster owns them. */
export const CROSS_OBJECT_DIAGNOSES = [
  "PodFailedMount",
  "PodSandboxFailed",
  "ProbeFailing",
  "StatefulSetServiceMissing",
  "StatefulSetStorageClassMissing",
  "StatefulSetPodNotRunning",
  "ImagePullSecretMissing",
  "HPATargetMissing",
  "PVCProvisioningFailed",
  "ServiceSelectsNoPods",
  "ServiceOnlyUnreadyPods",
  "IngressClassMissing",
  "IngressServiceMissing",
  "IngressSecretMissing",
  "WebhookServiceMissing",
  "WebhookNoPods",
  "WebhookPodInactive",
  "ConfigMapMissing",
  "SecretMissing",
  "PersistentVolumeClaimMissing",
  "ServiceAccountMissing",
];

/** Kinds the cross-object rules read; everything else would only cost memory. */
export const CROSS_OBJECT_KINDS = [
  "Pod",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "CronJob",
  "Service",
  "Ingress",
  "IngressClass",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
  "ServiceAccount",
  "NetworkPolicy",
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
  "ConfigMap",
  "Secret",
  "PersistentVolumeClaim",
  "StorageClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "Event",
];

/** Every rule the cross-object pass judges: audit rules that read other objects, and the diagnoses above. */
export const CROSS_OBJECT_RULES = [
  ...AUDIT_RULES.filter((r) => r.crossObject).map((r) => r.id),
  ...CROSS_OBJECT_DIAGNOSES,
];

/**
 * The cross-object findings of a whole cluster: rules that read other objects (PDBs, roles,
 * service accounts, selectors, references) and events. Keyed by object uid.
 */
export function clusterIssues(
  objects: Obj[],
  events: Obj[],
  config: InsightConfig = {},
): Map<
  string,
  {
    object: Obj;
    issues: { rule: string; severity: Severity; category: string; message: string; container?: string }[];
  }
> {
  const byRef = new Map<string, Obj>();
  for (const o of objects) byRef.set(`${o.kind}/${namespaceOf(o)}/${o.metadata?.name}`, o);
  const out = new Map<
    string,
    {
      object: Obj;
      issues: { rule: string; severity: Severity; category: string; message: string; container?: string }[];
    }
  >();
  const add = (
    object: Obj | undefined,
    issue: { rule: string; severity: Severity; category: string; message: string; container?: string },
  ) => {
    const uid = object?.metadata?.uid;
    if (!uid) return;
    const entry = out.get(uid) ?? { object, issues: [] };
    if (!entry.issues.some((i) => i.rule === issue.rule && (i.container ?? "") === (issue.container ?? "")))
      entry.issues.push(issue);
    out.set(uid, entry);
  };
  for (const f of audit(
    objects,
    AUDIT_RULES.filter((r) => r.crossObject),
    config,
  ))
    if (!f.passed)
      add(byRef.get(`${f.kind}/${f.namespace}/${f.name}`), {
        rule: f.rule,
        severity: f.severity,
        category: f.category,
        message: f.message,
        ...(f.container ? { container: f.container } : {}),
      });
  for (const d of diagnose(objects, events)) {
    if (!CROSS_OBJECT_DIAGNOSES.includes(d.rule) || (config.disabled ?? []).includes(d.rule)) continue;
    const object = byRef.get(`${d.kind}/${d.namespace}/${d.name}`);
    if (object && isExempt(object, d.rule, config)) continue;
    add(object, {
      rule: d.rule,
      severity: config.severity?.[d.rule] ?? d.severity,
      category: "Runtime",
      message: d.message,
    });
  }
  return out;
}
