import type { ResourceType } from "./catalog.js";
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
  leadingColumns?: { column: TableColumn; cell: (object: Obj) => unknown }[];
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

// biome-ignore lint/suspicious/noExplicitAny: objects are schemaless JSON read defensively below
type Obj = Record<string, any>;

const col = (name: string, type = "string", priority = 0, format = ""): TableColumn => ({
  name,
  type,
  format,
  description: "",
  priority,
});

/** How long ago, in kubectl's short form: 45s, 12m, 5h, 3d, 2y. */
export function humanAge(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  return days < 730 ? `${days}d` : `${Math.floor(days / 365)}y`;
}

export function podStatusText(pod: Obj): string {
  if (pod.metadata?.deletionTimestamp) return "Terminating";
  let reason: string = pod.status?.reason ?? pod.status?.phase ?? "Unknown";
  for (const status of (pod.status?.containerStatuses ?? []) as Obj[]) {
    const waiting = status.state?.waiting?.reason;
    const terminated = status.state?.terminated?.reason;
    if (waiting) reason = waiting;
    else if (terminated) reason = terminated;
  }
  return reason;
}

interface KindPrinter {
  columns: TableColumn[];
  cells: (o: Obj, age: string) => unknown[];
}

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
      const statuses = (o.status?.containerStatuses ?? []) as Obj[];
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
    ],
    cells: (o, age) => [
      o.metadata.name,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
      o.status?.updatedReplicas ?? 0,
      o.status?.availableReplicas ?? 0,
      age,
    ],
  },
  ReplicaSet: {
    columns: [
      col("Name"),
      col("Desired", "integer"),
      col("Current", "integer"),
      col("Ready", "integer"),
      col("Age"),
    ],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.replicas ?? 0,
      o.status?.replicas ?? 0,
      o.status?.readyReplicas ?? 0,
      age,
    ],
  },
  Service: {
    columns: [col("Name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age")],
    cells: (o, age) => [
      o.metadata.name,
      o.spec?.type ?? "ClusterIP",
      o.spec?.clusterIP ?? "<none>",
      (o.status?.loadBalancer?.ingress ?? []).map((i: Obj) => i.ip ?? i.hostname).join(",") || "<none>",
      ((o.spec?.ports ?? []) as Obj[]).map((p) => `${p.port}/${p.protocol ?? "TCP"}`).join(",") || "<none>",
      age,
    ],
  },
  Node: {
    columns: [col("Name"), col("Status"), col("Roles"), col("Age"), col("Version")],
    cells: (o, age) => {
      const ready = ((o.status?.conditions ?? []) as Obj[]).find((c) => c.type === "Ready");
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((l) => l.startsWith("node-role.kubernetes.io/"))
        .map((l) => l.slice("node-role.kubernetes.io/".length));
      return [
        o.metadata.name,
        ready?.status === "True" ? "Ready" : "NotReady",
        roles.join(",") || "<none>",
        age,
        o.status?.nodeInfo?.kubeletVersion ?? "",
      ];
    },
  },
  Namespace: {
    columns: [col("Name"), col("Status"), col("Age")],
    cells: (o, age) => [o.metadata.name, o.status?.phase ?? "Active", age],
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

function rowObject(object: Obj, includeObject: string): Obj | undefined {
  if (includeObject === "None") return undefined;
  if (includeObject === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

export function toTable(
  type: Pick<ResourceType, "kind">,
  objects: Obj[],
  listMetadata: Obj,
  options: TableOptions = {},
): Obj {
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
        ...printer.cells(o, humanAge(o.metadata?.creationTimestamp, now)),
      ],
      object: rowObject(o, includeObject),
    })),
  };
}

/** True when an Accept header asks for server-side Table printing. */
export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept);
}
