import { can } from "@atoll/access";
import type { JsonObject } from "@atoll/kube";
import {
  annotated,
  apiVersionOf,
  BUILTIN_RESOURCE_TYPES,
  CLUSTER_ANNOTATION,
  discoveryDocument,
  type PrinterColumn,
  parseFieldSelector,
  parseLabelSelector,
  type ResourceType,
  resourceRoute,
  SelectorError,
  statusObject,
  toTable,
  wantsTable,
} from "@atoll/kube";
import {
  and,
  type Condition,
  type Cursor,
  column,
  discoverableTypes,
  kubeListConditions,
  QueryError,
  searchPostgres,
} from "@atoll/search";
import { type ChangeFeed, type Database, latestChangeId } from "@atoll/store";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type postgres from "postgres";
import { cachedFor } from "./cache.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { serveWatch, type WatchScope } from "./kube-watch.js";

const MAX_PAGE = 5000;
/** Listing the indexed types scans the whole table; kinds appear rarely, so a few seconds' cache is right. */
const TYPES_TTL_MS = 10_000;

/** How many clusters a name's Conflict answer lists. */
const CONFLICT_CLUSTERS = 10;

const clusterColumn = {
  column: {
    name: "Cluster",
    type: "string",
    format: "",
    description: "The cluster the object lives in",
    priority: 0,
  },
  cell: (o: JsonObject) => o.metadata?.annotations?.[CLUSTER_ANNOTATION] ?? "",
};

/**
 * A custom resource's printer columns, from its CRD as indexed (the first cluster's, if several
 * hold it). Built-in kinds have their own printers.
 */
async function crdPrinterColumns(db: Database, type: ResourceType): Promise<PrinterColumn[] | undefined> {
  if (BUILTIN_RESOURCE_TYPES.some((t) => t.group === type.group && t.resource === type.resource))
    return undefined;
  const page = await searchPostgres(
    db,
    {
      where: {
        type: "and",
        of: [
          { type: "compare", field: column("kind"), op: "=", value: "CustomResourceDefinition" },
          { type: "compare", field: column("name"), op: "=", value: `${type.resource}.${type.group}` },
        ],
      },
      orderBy: [],
    },
    { limit: 1 },
  );
  const versions = (page.items[0]?.object as JsonObject | undefined)?.spec?.versions as
    | JsonObject[]
    | undefined;
  return versions?.find((v) => v.name === type.version)?.additionalPrinterColumns;
}

/**
 * A read-only Kubernetes API over the index, for an unmodified kubectl: /k8s/all/... spans every
 * cluster, /k8s/clusters/<name>/... one. Objects carry their cluster in an annotation, and Table
 * output leads with a CLUSTER column.
 */
export function kubeRoutes(
  app: FastifyInstance,
  db: Database,
  within: (request: FastifyRequest) => Condition[],
  watch: { sql: postgres.Sql; feed: ChangeFeed },
): void {
  const servedTypes = cachedFor(TYPES_TTL_MS, () => discoverableTypes(db));
  const handle = async (
    request: FastifyRequest,
    reply: FastifyReply,
    cluster: string | undefined,
    rest: string,
  ) => {
    const send = (code: number, body: unknown) => reply.status(code).type("application/json").send(body);
    // The router has decoded the path once already; decoding again would turn %25 into a
    // stray % and throw.
    const parts = rest.split("/").filter(Boolean);
    // A cluster or kind outside the caller's grants does not exist as far as they can tell.
    if (cluster && !can(request.principal, "read", { cluster }))
      return send(404, statusObject(404, "NotFound", `the index holds no cluster "${cluster}"`));
    // A cluster-scoped kind is readable only with a grant over every namespace, as in search.
    const types = (await servedTypes()).filter((t) =>
      can(request.principal, "read", {
        ...(cluster ? { cluster } : {}),
        kind: t.kind,
        ...(t.namespaced ? {} : { namespace: "" }),
      }),
    );
    const discovery = discoveryDocument(types, parts, {
      verbs: ["get", "list"],
      gitVersion: "v1.30.0",
      gitCommit: "atoll-index",
    });
    if (discovery) return send(200, discovery);
    const route = resourceRoute(parts, (group, version, resource) =>
      types.find((t) => t.group === group && t.version === version && t.resource === resource),
    );
    if (!route)
      return send(404, statusObject(404, "NotFound", `the index holds no resource at /${parts.join("/")}`));
    if (request.method !== "GET") {
      return send(
        405,
        statusObject(
          405,
          "MethodNotAllowed",
          "the index is read-only; change clusters through /proxy/clusters/<name>",
        ),
      );
    }
    const params = request.query as Record<string, string | undefined>;
    if (route.subresource)
      return send(
        404,
        statusObject(404, "NotFound", `the index does not serve the ${route.subresource} subresource`),
      );
    let where: ReturnType<typeof and>;
    try {
      where = and([
        ...kubeListConditions(route, {
          ...(cluster ? { cluster } : {}),
          ...(params.labelSelector ? { labelSelector: params.labelSelector } : {}),
          ...(params.fieldSelector ? { fieldSelector: params.fieldSelector } : {}),
          ...Object.fromEntries(
            (["ownerUID", "ownerName", "ownerGR", "ownerSeniority"] as const)
              .filter((k) => params[k] !== undefined)
              .map((k) => [k, params[k]]),
          ),
        }),
        ...within(request),
      ]);
    } catch (error) {
      if (error instanceof SelectorError || error instanceof QueryError)
        return send(400, statusObject(400, "BadRequest", error.message));
      throw error;
    }
    // The hub's CLUSTER column, and a custom resource's printer columns, in lists and watches alike.
    const tableColumns = async (): Promise<WatchScope["columns"]> => {
      const printerColumns = await crdPrinterColumns(db, route.type);
      return { leadingColumns: [clusterColumn], ...(printerColumns ? { printerColumns } : {}) };
    };
    if (params.watch === "true" || params.watch === "1") {
      return serveWatch(
        request,
        reply,
        { db, sql: watch.sql, feed: watch.feed },
        {
          route,
          ...(cluster ? { cluster } : {}),
          labels: parseLabelSelector(params.labelSelector ?? ""),
          fields: parseFieldSelector(params.fieldSelector ?? ""),
          conditions: where,
          principal: request.principal,
          columns: wantsTable(request.headers.accept) ? await tableColumns() : {},
        },
      );
    }
    const query = { ...(where ? { where } : {}), orderBy: [] };
    if (route.name) {
      const page = await searchPostgres(db, query, { limit: CONFLICT_CLUSTERS + 1 });
      if (page.items.length === 0)
        return send(404, statusObject(404, "NotFound", `${route.type.resource} "${route.name}" not found`));
      if (page.items.length > 1) {
        const clusters = page.items.slice(0, CONFLICT_CLUSTERS).map((i) => i.cluster);
        const more = page.items.length > CONFLICT_CLUSTERS ? ", and more" : "";
        return send(
          409,
          statusObject(
            409,
            "Conflict",
            `${route.type.resource} "${route.name}" exists in several clusters (${clusters.join(", ")}${more}); ask one: use the context atoll-index-${clusters[0]} of \`atoll kubeconfig\`, or the server /k8s/clusters/${clusters[0]}`,
          ),
        );
      }
      return send(200, annotated(page.items[0]!));
    }
    const limit = Math.min(Number(params.limit) > 0 ? Number(params.limit) : MAX_PAGE, MAX_PAGE);
    let after: Cursor | { offset: number } | undefined;
    try {
      after = params.continue ? decodeCursor(params.continue) : undefined;
    } catch {
      return send(410, statusObject(410, "Expired", "the continue token is not valid; start the list again"));
    }
    const page = await searchPostgres(db, query, { limit, ...(after ? { after } : {}) });
    const latest = await latestChangeId(db.$client);
    const metadata: JsonObject = {
      resourceVersion: String(latest),
      ...(page.next ? { continue: encodeCursor(page.next) } : {}),
    };
    const objects = page.items.map(annotated);
    if (wantsTable(request.headers.accept))
      return send(
        200,
        toTable(route.type, objects, metadata, {
          includeObject: params.includeObject,
          ...(await tableColumns()),
        }),
      );
    return send(200, {
      kind: `${route.type.kind}List`,
      apiVersion: apiVersionOf(route.type),
      metadata,
      items: objects,
    });
  };

  app.all("/k8s/all/*", (request, reply) =>
    handle(request, reply, undefined, (request.params as { "*": string })["*"]),
  );
  app.all("/k8s/clusters/:cluster/*", (request, reply) => {
    const params = request.params as { cluster: string; "*": string };
    return handle(request, reply, params.cluster, params["*"]);
  });
}
