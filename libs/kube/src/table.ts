import { humanAge } from "./age.js";
import type { ResourceType } from "./catalog.js";
import type { JsonObject } from "./json-object.js";
import { cellText, evaluateJsonPath, parseJsonPath } from "./jsonpath.js";

/** Server-side printing (meta.k8s.io/v1 Table), as kubectl requests for human-readable output. */
export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableOptions {
  /** "None", "Metadata" (default, as the API server) or "Object". */
  includeObject?: string;
  /** Leading columns, e.g. the hub's CLUSTER column; each reads its cell from the object. */
  leadingColumns?: { column: TableColumn; cell: (object: JsonObject) => unknown }[];
  omitHeaders?: boolean;
  now?: number;
  /** A custom resource's additionalPrinterColumns, from its CRD's served version. */
  printerColumns?: PrinterColumn[];
}

/** One entry of a CRD version's additionalPrinterColumns. */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

const col = (name: string, type = "string", priority = 0, format = ""): TableColumn => ({
  name,
  type,
  format,
  description: "",
  priority,
});

export function podStatusText(pod: JsonObject): string {
  if (pod.metadata?.deletionTimestamp) return "Terminating";
  let reason: string = pod.status?.reason ?? pod.status?.phase ?? "Unknown";
  for (const status of (pod.status?.containerStatuses ?? []) as JsonObject[]) {
    const waiting = status.state?.waiting?.reason;
    const terminated = status.state?.terminated?.reason;
    if (waiting) reason = waiting;
    else if (terminated) reason = terminated;
  }
  return reason;
}

interface KindPrinter {
  columns: TableColumn[];
  cells: (o: JsonObject, age: string, now: number) => unknown[];
}

/** A duration as kubectl prints one (a Job's DURATION): 45s, 3m20s, 2h5m, 4d3h, 1y20d. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const partsOf = (major: number, unit: string, minor: number, minorUnit: string) =>
    `${major}${unit}${minor ? `${minor}${minorUnit}` : ""}`;
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return partsOf(minutes, "m", s % 60, "s");
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return partsOf(hours, "h", minutes % 60, "m");
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return partsOf(days, "d", hours % 24, "h");
  if (days < 365 * 2) return `${days}d`;
  if (days < 365 * 8) return partsOf(Math.floor(days / 365), "y", days % 365, "d");
  return `${Math.floor(days / 365)}y`;
}

const none = (text: string | undefined) => (text ? text : "<none>");
const containersOf = (podSpec: JsonObject | undefined) => (podSpec?.containers ?? []) as JsonObject[];
const containerNames = (podSpec: JsonObject | undefined) =>
  containersOf(podSpec)
    .map((c) => c.name)
    .join(",");
const containerImages = (podSpec: JsonObject | undefined) =>
  containersOf(podSpec)
    .map((c) => c.image)
    .join(",");
/** A label selector as kubectl prints it: matchLabels as k=v, expressions as k in (a,b). */
function selectorText(selector: JsonObject | undefined): string {
  if (!selector) return "<none>";
  const parts = Object.entries((selector.matchLabels ?? {}) as Record<string, string>).map(
    ([k, v]) => `${k}=${v}`,
  );
  for (const e of (selector.matchExpressions ?? []) as JsonObject[]) {
    const values = (e.values ?? []).join(",");
    parts.push(
      e.operator === "In"
        ? `${e.key} in (${values})`
        : e.operator === "NotIn"
          ? `${e.key} notin (${values})`
          : e.operator === "Exists"
            ? e.key
            : `!${e.key}`,
    );
  }
  return parts.join(",") || "<none>";
}
const mapText = (map: Record<string, string> | undefined) =>
  none(
    Object.entries(map ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
  );
const countOf = (map: JsonObject | undefined) => Object.keys(map ?? {}).length;
/** The wide columns every pod-template workload prints. */
const TEMPLATE_WIDE = [
  col("Containers", "string", 1),
  col("Images", "string", 1),
  col("Selector", "string", 1),
];
const templateWide = (o: JsonObject) => [
  containerNames(o.spec?.template?.spec),
  containerImages(o.spec?.template?.spec),
  selectorText(o.spec?.selector),
];
const accessModes = (modes: string[] | undefined) =>
  (modes ?? [])
    .map(
      (m) =>
        ({ ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP" })[m] ??
        m,
    )
    .join(",");
const loadBalancerAddresses = (o: JsonObject) =>
  ((o.status?.loadBalancer?.ingress ?? []) as JsonObject[]).map((i) => i.ip ?? i.hostname).join(",");

/** RoleBindings and ClusterRoleBindings print alike: the role, and (wide) who it is bound to. */
const ROLE_BINDING_PRINTER: KindPrinter = {
  columns: [
    col("Name"),
    col("Role"),
    col("Age"),
    col("Users", "string", 1),
    col("Groups", "string", 1),
    col("ServiceAccounts", "string", 1),
  ],
  cells: (o, age) => {
    const subjects = (o.subjects ?? []) as JsonObject[];
    const of = (kind: string) =>
      subjects
        .filter((s) => s.kind === kind)
        .map((s) => (kind === "ServiceAccount" ? `${s.namespace ?? ""}/${s.name}` : s.name))
        .join(", ");
    return [
      o.metadata.name,
      `${o.roleRef?.kind ?? ""}/${o.roleRef?.name ?? ""}`,
      age,
      of("User"),
      of("Group"),
      of("ServiceAccount"),
    ];
  },
};

const PRINTERS: Record<string, KindPrinter> = {
  Pod: {
    columns: [
      col("Name"),
      col("Ready"),
      col("Status"),
      col("Restarts", "string"),
      col("Age"),
      col("IP", "string", 1),
      col("Node", "string", 1),
    ],
    cells: (o, age) => {
      const statuses = (o.status?.containerStatuses ?? []) as JsonObject[];
      const total = (o.spec?.containers ?? []).length;
      const ready = statuses.filter((s) => s.ready).length;
      const restarts = statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
      return [
        o.metadata.name,
        `${ready}/${total}`,
        podStatusText(o),
        String(restarts),
        age,
        o.status?.podIP ?? "<none>",
        o.spec?.nodeName ?? "<none>",
      ];
    },
  },
  Deployment: {
    columns: [
      col("Name"),
      col("Ready"),
      col("Up-to-date", "integer"),
      col("Available", "integer"),
      col("Age"),
      ...TEMPLATE_WIDE,
    ],
    cells: (o, age) => [
      o.metadata.name,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
      o.status?.updatedReplicas ?? 0,
      o.status?.availableReplicas ?? 0,
      age,
      ...templateWide(o),
    ],
  },
  ReplicaSet: {
    columns: [
      col("Name"),
      col("Desired", "integer"),
      col("Current", "integer"),
      col("Ready", "integer"),
      col("Age"),
      ...TEMPLATE_WIDE,
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.replicas ?? 0,
      o.status?.replicas ?? 0,
      o.status?.readyReplicas ?? 0,
      age,
      ...templateWide(o),
    ],
  },
  StatefulSet: {
    columns: [
      col("Name"),
      col("Ready"),
      col("Age"),
      col("Containers", "string", 1),
      col("Images", "string", 1),
    ],
    cells: (o, age) => [
      o.metadata.name,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
      age,
      containerNames(o.spec?.template?.spec),
      containerImages(o.spec?.template?.spec),
    ],
  },
  DaemonSet: {
    columns: [
      col("Name"),
      col("Desired", "integer"),
      col("Current", "integer"),
      col("Ready", "integer"),
      col("Up-to-date", "integer"),
      col("Available", "integer"),
      col("Node Selector"),
      col("Age"),
      ...TEMPLATE_WIDE,
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.status?.desiredNumberScheduled ?? 0,
      o.status?.currentNumberScheduled ?? 0,
      o.status?.numberReady ?? 0,
      o.status?.updatedNumberScheduled ?? 0,
      o.status?.numberAvailable ?? 0,
      mapText(o.spec?.template?.spec?.nodeSelector),
      age,
      ...templateWide(o),
    ],
  },
  Job: {
    columns: [col("Name"), col("Status"), col("Completions"), col("Duration"), col("Age"), ...TEMPLATE_WIDE],
    cells: (o, age, now) => {
      const conditions = (o.status?.conditions ?? []) as JsonObject[];
      const holds = (type: string) => conditions.some((c) => c.type === type && c.status === "True");
      const status = holds("Complete")
        ? "Complete"
        : holds("Failed")
          ? "Failed"
          : holds("Suspended")
            ? "Suspended"
            : "Running";
      const started = o.status?.startTime ? Date.parse(o.status.startTime) : undefined;
      const finished = o.status?.completionTime ? Date.parse(o.status.completionTime) : now;
      return [
        o.metadata.name,
        status,
        `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}`,
        started === undefined ? "" : humanDuration((finished - started) / 1000),
        age,
        ...templateWide({ spec: { template: o.spec?.template, selector: o.spec?.selector } }),
      ];
    },
  },
  CronJob: {
    columns: [
      col("Name"),
      col("Schedule"),
      col("Timezone"),
      col("Suspend", "boolean"),
      col("Active", "integer"),
      col("Last Schedule"),
      col("Age"),
      col("Containers", "string", 1),
      col("Images", "string", 1),
    ],
    cells: (o, age, now) => [
      o.metadata.name,
      o.spec?.schedule ?? "",
      none(o.spec?.timeZone),
      o.spec?.suspend === true,
      (o.status?.active ?? []).length,
      o.status?.lastScheduleTime ? humanAge(o.status.lastScheduleTime, now) : "<none>",
      age,
      containerNames(o.spec?.jobTemplate?.spec?.template?.spec),
      containerImages(o.spec?.jobTemplate?.spec?.template?.spec),
    ],
  },
  ConfigMap: {
    columns: [col("Name"), col("Data", "integer"), col("Age")],
    cells: (o, age) => [o.metadata.name, countOf(o.data) + countOf(o.binaryData), age],
  },
  Secret: {
    columns: [col("Name"), col("Type"), col("Data", "integer"), col("Age")],
    cells: (o, age) => [o.metadata.name, o.type ?? "Opaque", countOf(o.data), age],
  },
  ServiceAccount: {
    columns: [col("Name"), col("Secrets", "integer"), col("Age")],
    cells: (o, age) => [o.metadata.name, (o.secrets ?? []).length, age],
  },
  PersistentVolumeClaim: {
    columns: [
      col("Name"),
      col("Status"),
      col("Volume"),
      col("Capacity"),
      col("Access Modes"),
      col("StorageClass"),
      col("Age"),
      col("VolumeMode", "string", 1),
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.status?.phase ?? "Pending",
      o.spec?.volumeName ?? "",
      o.status?.capacity?.storage ?? "",
      accessModes(o.status?.accessModes),
      none(o.spec?.storageClassName),
      age,
      o.spec?.volumeMode ?? "Filesystem",
    ],
  },
  PersistentVolume: {
    columns: [
      col("Name"),
      col("Capacity"),
      col("Access Modes"),
      col("Reclaim Policy"),
      col("Status"),
      col("Claim"),
      col("StorageClass"),
      col("Reason"),
      col("Age"),
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.capacity?.storage ?? "",
      accessModes(o.spec?.accessModes),
      o.spec?.persistentVolumeReclaimPolicy ?? "",
      o.status?.phase ?? "",
      o.spec?.claimRef ? `${o.spec.claimRef.namespace}/${o.spec.claimRef.name}` : "",
      o.spec?.storageClassName ?? "",
      o.status?.reason ?? "",
      age,
    ],
  },
  Ingress: {
    columns: [col("Name"), col("Class"), col("Hosts"), col("Address"), col("Ports"), col("Age")],
    cells: (o, age) => {
      const rules = (o.spec?.rules ?? []) as JsonObject[];
      const hosts = rules.map((r) => r.host ?? "*").join(",");
      return [
        o.metadata.name,
        none(o.spec?.ingressClassName),
        hosts || "*",
        loadBalancerAddresses(o),
        (o.spec?.tls ?? []).length > 0 ? "80, 443" : "80",
        age,
      ];
    },
  },
  HorizontalPodAutoscaler: {
    columns: [
      col("Name"),
      col("Reference"),
      col("Targets"),
      col("MinPods", "integer"),
      col("MaxPods", "integer"),
      col("Replicas", "integer"),
      col("Age"),
    ],
    cells: (o, age) => {
      const ref = o.spec?.scaleTargetRef ?? {};
      const current = new Map(
        ((o.status?.currentMetrics ?? []) as JsonObject[]).map((m) => [
          m.resource?.name,
          m.resource?.current,
        ]),
      );
      const targets = ((o.spec?.metrics ?? []) as JsonObject[])
        .filter((m) => m.type === "Resource")
        .map((m) => {
          const name = m.resource?.name;
          const target = m.resource?.target ?? {};
          const now = current.get(name);
          if (target.type === "Utilization")
            return `${name}: ${now?.averageUtilization ?? "<unknown>"}${now?.averageUtilization === undefined ? "" : "%"}/${target.averageUtilization}%`;
          return `${name}: ${now?.averageValue ?? "<unknown>"}/${target.averageValue ?? target.value}`;
        });
      return [
        o.metadata.name,
        `${ref.kind ?? ""}/${ref.name ?? ""}`,
        targets.join(", ") || "<none>",
        o.spec?.minReplicas ?? 1,
        o.spec?.maxReplicas ?? 0,
        o.status?.currentReplicas ?? 0,
        age,
      ];
    },
  },
  PodDisruptionBudget: {
    columns: [
      col("Name"),
      col("Min Available"),
      col("Max Unavailable"),
      col("Allowed Disruptions", "integer"),
      col("Age"),
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.minAvailable === undefined ? "N/A" : String(o.spec.minAvailable),
      o.spec?.maxUnavailable === undefined ? "N/A" : String(o.spec.maxUnavailable),
      o.status?.disruptionsAllowed ?? 0,
      age,
    ],
  },
  NetworkPolicy: {
    columns: [col("Name"), col("Pod-Selector"), col("Age")],
    cells: (o, age) => {
      const selector = selectorText(o.spec?.podSelector);
      return [o.metadata.name, selector === "<none>" ? "<none>" : selector, age];
    },
  },
  StorageClass: {
    columns: [
      col("Name"),
      col("Provisioner"),
      col("ReclaimPolicy"),
      col("VolumeBindingMode"),
      col("AllowVolumeExpansion", "boolean"),
      col("Age"),
    ],
    cells: (o, age) => [
      o.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true"
        ? `${o.metadata.name} (default)`
        : o.metadata.name,
      o.provisioner ?? "",
      o.reclaimPolicy ?? "Delete",
      o.volumeBindingMode ?? "Immediate",
      o.allowVolumeExpansion === true,
      age,
    ],
  },
  Endpoints: {
    columns: [col("Name"), col("Endpoints"), col("Age")],
    cells: (o, age) => {
      const endpoints = ((o.subsets ?? []) as JsonObject[]).flatMap((subset) =>
        ((subset.addresses ?? []) as JsonObject[]).flatMap((a) =>
          ((subset.ports ?? [{}]) as JsonObject[]).map((p) => (p.port ? `${a.ip}:${p.port}` : a.ip)),
        ),
      );
      const shown = endpoints.slice(0, 3).join(",");
      return [
        o.metadata.name,
        endpoints.length > 3 ? `${shown} + ${endpoints.length - 3} more...` : none(shown),
        age,
      ];
    },
  },
  RoleBinding: ROLE_BINDING_PRINTER,
  ClusterRoleBinding: ROLE_BINDING_PRINTER,
  Service: {
    columns: [
      col("Name"),
      col("Type"),
      col("Cluster-IP"),
      col("External-IP"),
      col("Port(s)"),
      col("Age"),
      col("Selector", "string", 1),
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.type ?? "ClusterIP",
      o.spec?.clusterIP ?? "<none>",
      none(loadBalancerAddresses(o) || (o.spec?.externalIPs ?? []).join(",")),
      ((o.spec?.ports ?? []) as JsonObject[])
        .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
        .join(",") || "<none>",
      age,
      mapText(o.spec?.selector),
    ],
  },
  Node: {
    columns: [
      col("Name"),
      col("Status"),
      col("Roles"),
      col("Age"),
      col("Version"),
      col("Internal-IP", "string", 1),
      col("External-IP", "string", 1),
      col("OS-Image", "string", 1),
      col("Kernel-Version", "string", 1),
      col("Container-Runtime", "string", 1),
    ],
    cells: (o, age) => {
      const address = (type: string) =>
        ((o.status?.addresses ?? []) as JsonObject[]).find((a) => a.type === type)?.address ?? "<none>";
      const info = o.status?.nodeInfo ?? {};
      const ready = ((o.status?.conditions ?? []) as JsonObject[]).find((c) => c.type === "Ready");
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((l) => l.startsWith("node-role.kubernetes.io/"))
        .map((l) => l.slice("node-role.kubernetes.io/".length));
      return [
        o.metadata.name,
        ready?.status === "True" ? "Ready" : "NotReady",
        roles.join(",") || "<none>",
        age,
        info.kubeletVersion ?? "",
        address("InternalIP"),
        address("ExternalIP"),
        info.osImage ?? "<unknown>",
        info.kernelVersion ?? "<unknown>",
        info.containerRuntimeVersion ?? "<unknown>",
      ];
    },
  },
  Namespace: {
    columns: [col("Name"), col("Status"), col("Age")],
    cells: (o, age) => [o.metadata.name, o.status?.phase ?? "Active", age],
  },
  // Karmada's ResourceBinding columns (its CRD's printer columns), for the hub's bindings.
  ResourceBinding: {
    columns: [col("Name"), col("Scheduled"), col("FullyApplied"), col("Age")],
    cells: (o, age) => {
      const scheduled =
        (o.status?.conditions ?? []).find((c: JsonObject) => c?.type === "Scheduled")?.status ?? "";
      const clusters: JsonObject[] = o.spec?.clusters ?? [];
      const applied: JsonObject[] = o.status?.aggregatedStatus ?? [];
      const fully =
        clusters.length > 0 &&
        clusters.every((c) => applied.some((a) => a.clusterName === c.name && a.applied === true));
      return [o.metadata.name, scheduled, fully ? "True" : "False", age];
    },
  },
  Event: {
    columns: [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
    cells: (o) => [
      humanAge(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp),
      o.type ?? "",
      o.reason ?? "",
      `${(o.involvedObject?.kind ?? "").toLowerCase()}/${o.involvedObject?.name ?? ""}`,
      o.message ?? "",
    ],
  },
};

const DEFAULT_PRINTER: KindPrinter = {
  columns: [col("Name"), { ...col("Created At", "date"), format: "date-time" }],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp ?? ""],
};

/**
 * The printer the API server builds for a custom resource: Name, then each printer column; a
 * date column prints as an age, as the API server does. A bad jsonPath prints as empty rather
 * than failing the list.
 */
function crdPrinter(columns: PrinterColumn[], now: number): KindPrinter {
  const paths = columns.map((c) => {
    try {
      return parseJsonPath(c.jsonPath);
    } catch {
      return undefined;
    }
  });
  return {
    columns: [
      col("Name"),
      ...columns.map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? "",
        description: c.description ?? "",
        priority: c.priority ?? 0,
      })),
    ],
    cells: (o) => [
      o.metadata.name,
      ...columns.map((c, i) => {
        const values = paths[i] ? evaluateJsonPath(o, paths[i]) : [];
        if (values.length === 0) return null;
        if (c.type === "date") return humanAge(String(values[0]), now);
        return values.length === 1 && typeof values[0] !== "object" ? values[0] : cellText(values);
      }),
    ],
  };
}

function rowObject(object: JsonObject, includeObject: string): JsonObject | undefined {
  if (includeObject === "None") return undefined;
  if (includeObject === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

export function toTable(
  type: Pick<ResourceType, "kind">,
  objects: JsonObject[],
  listMetadata: JsonObject,
  options: TableOptions = {},
): JsonObject {
  const leading = options.leadingColumns ?? [];
  const now = options.now ?? Date.now();
  const printer = options.printerColumns?.length
    ? crdPrinter(options.printerColumns, now)
    : (PRINTERS[type.kind] ?? DEFAULT_PRINTER);
  const includeObject = options.includeObject ?? "Metadata";
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMetadata,
    ...(options.omitHeaders
      ? {}
      : { columnDefinitions: [...leading.map((l) => l.column), ...printer.columns] }),
    rows: objects.map((o) => ({
      cells: [
        ...leading.map((l) => l.cell(o)),
        ...printer.cells(o, humanAge(o.metadata?.creationTimestamp, now), now),
      ],
      object: rowObject(o, includeObject),
    })),
  };
}

/** True when an Accept header asks for server-side Table printing. */
export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept);
}
