import { clustersAllowed, type Principal, visibleScope } from "@atoll/access";
import type { Bus } from "@atoll/bus";
import {
  applyDocuments,
  bindingClusterNames,
  bindingWithin,
  clusterStatuses,
  WriteForbiddenError,
  type Writer,
} from "@atoll/control";
import { BINDING_LABEL, DocumentsError, rejectionsByCluster } from "@atoll/placement";
import {
  type BindingRow,
  clusterReachability,
  getBinding,
  listBindings,
  listWorks,
  templateReadiness,
} from "@atoll/store";
import type { FastifyInstance } from "fastify";
import type postgres from "postgres";
import { demand } from "./auth.js";
import { decodeCursor, encodeCursor, parseLimit } from "./cursor.js";
import { badRequest, HttpProblem } from "./problem.js";

/**
 * As the JSON form's limit (Fastify's 1 MiB): a work must fit one NATS message (1 MiB by default)
 * anyway, and parsing runs on the event loop, so a bound on size is a bound on the stall.
 */
const MAX_DOCUMENTS_BYTES = 1024 * 1024;

/** The caller as a writer: each document is decided by the caller's write grants on its scope. */
const writerOf = (principal: Principal): Writer => ({
  name: `${principal.name} (role ${principal.role})`,
  clustersFor: (scope) => clustersAllowed(principal, "write", scope),
});

/**
 * A binding as the caller may read it, or undefined: the read grants that cover the template's
 * namespace and kind decide which clusters' part of it shows, as search decides which objects do.
 */
function readableBinding(principal: Principal, binding: BindingRow): BindingRow | undefined {
  const clusters = clustersAllowed(principal, "read", { namespace: binding.namespace, kind: binding.kind });
  if (clusters.length === 0) return undefined;
  return clusters.includes("*") ? binding : bindingWithin(binding, (c) => clusters.includes(c));
}

/** Pages' worth of bindings one list request reads at most, looking for ones the caller may read. */
const BINDINGS_SCANNED_PER_PAGE = 10;

/** The virtual cluster whose ResourceBindings the index shows bindings as. */
const HUB_CLUSTER = "atoll.hub";

/** A list position as a continue token carries it: the keyset cursor of the hub's ResourceBinding. */
const bindingCursor = (position: { namespace: string; name: string }) => ({
  cluster: HUB_CLUSTER,
  kind: "ResourceBinding",
  namespace: position.namespace,
  name: position.name,
  uid: "",
});

function bindingPosition(cursor: ReturnType<typeof decodeCursor>): { namespace: string; name: string } {
  if ("offset" in cursor || cursor.cluster !== HUB_CLUSTER || cursor.kind !== "ResourceBinding")
    throw badRequest(
      "INVALID_CONTINUE",
      "the continue token is not one GET /api/v1/bindings issued; repeat the request without it",
    );
  return { namespace: cursor.namespace, name: cursor.name };
}

/** A binding as the API shows it: each rejected cluster with its reason. */
const shownBinding = (binding: BindingRow) => ({
  ...binding,
  rejected: rejectionsByCluster(binding.rejected),
});

/**
 * POST /api/v1/apply and /api/v1/delete take multi-document YAML (Karmada policies and resource
 * templates); GET /api/v1/bindings shows where each template went and why.
 */
export function placementRoutes(
  app: FastifyInstance,
  sql: postgres.Sql,
  bus: Bus,
  staleAfterSeconds: number,
  options: { allowNoExecuteTaintPolicy?: boolean; secretKey?: Buffer } = {},
): void {
  app.addContentTypeParser(
    ["application/yaml", "application/x-yaml", "text/yaml", "text/plain"],
    { parseAs: "string", bodyLimit: MAX_DOCUMENTS_BYTES },
    (_request, body, done) => done(null, body),
  );

  const documentsOf = (body: unknown): string => {
    if (typeof body === "string") return body;
    if (body && typeof body === "object" && typeof (body as { documents?: unknown }).documents === "string")
      return (body as { documents: string }).documents;
    throw badRequest(
      "INVALID_BODY",
      'send YAML (content-type application/yaml) or JSON {documents: "<yaml>"}',
    );
  };

  for (const [path, remove] of [
    ["/api/v1/apply", false],
    ["/api/v1/delete", true],
  ] as const) {
    app.post(path, async (request) => {
      demand(request, "write");
      const namespace = (request.query as { namespace?: string }).namespace ?? "default";
      try {
        return await applyDocuments(sql, bus, documentsOf(request.body), writerOf(request.principal), {
          namespace,
          remove,
          allowNoExecuteTaintPolicy: options.allowNoExecuteTaintPolicy ?? false,
          ...(options.secretKey ? { secretKey: options.secretKey } : {}),
        });
      } catch (error) {
        if (error instanceof DocumentsError)
          throw new HttpProblem(422, error.code, "Invalid documents", error.message, {
            problems: error.problems,
          });
        if (error instanceof WriteForbiddenError)
          throw new HttpProblem(
            403,
            error.code,
            "Forbidden",
            `nothing was ${remove ? "deleted" : "applied"}: ${error.message}`,
            { problems: error.problems },
          );
        throw error;
      }
    });
  }

  // A page at a time, in order of namespace and name: a fleet's bindings number in the tens of
  // thousands, each with every cluster's status. The query narrows to the namespaces and kinds
  // the caller's grants name, and each row is then checked, so a page may hold fewer than its
  // limit; at most BINDINGS_SCANNED_PER_PAGE pages' worth are read for one.
  app.get("/api/v1/bindings", async (request) => {
    const query = request.query as { limit?: string; continue?: string; namespace?: string };
    const limit = parseLimit(query.limit);
    const granted = visibleScope(request.principal, "namespaces");
    const namespaces =
      query.namespace === undefined
        ? granted
        : granted === "all" || granted.includes(query.namespace)
          ? [query.namespace]
          : [];
    const kinds = visibleScope(request.principal, "kinds");
    let after = query.continue ? bindingPosition(decodeCursor(query.continue)) : undefined;
    const items: ReturnType<typeof shownBinding>[] = [];
    for (let scanned = 0; items.length < limit && scanned < limit * BINDINGS_SCANNED_PER_PAGE; ) {
      const rows = await listBindings(sql, { limit, after, namespaces, kinds });
      scanned += rows.length;
      for (const row of rows) {
        after = { namespace: row.namespace, name: row.name };
        const readable = readableBinding(request.principal, row);
        if (readable) items.push(shownBinding(readable));
        if (items.length === limit) break;
      }
      if (rows.length < limit && items.length < limit) return { items, continue: null };
    }
    return { items, continue: after ? encodeCursor(bindingCursor(after)) : null };
  });

  app.get("/api/v1/bindings/:namespace/:name", async (request) => {
    const { namespace, name } = request.params as { namespace: string; name: string };
    const stored = await getBinding(sql, namespace, name);
    const binding = stored && readableBinding(request.principal, stored);
    if (!binding)
      throw new HttpProblem(
        404,
        "BINDING_NOT_FOUND",
        "Not found",
        `no binding ${namespace}/${name}; list them with GET /api/v1/bindings`,
      );
    const readable = new Set(bindingClusterNames(binding));
    const works = (await listWorks(sql, namespace, name)).filter(
      (w) => stored === binding || readable.has(w.cluster),
    );
    const clusterStatus = clusterStatuses(
      binding,
      await clusterReachability(sql, bindingClusterNames(binding), staleAfterSeconds),
    );
    // What the hub cannot hear from may have changed since it was indexed: it is left out, and named.
    const unknownClusters = clusterStatus.filter((c) => !c.reachable).map((c) => c.cluster);
    // Readiness comes from the member clusters' objects as indexed, summed across clusters: all of
    // them for a caller who reads the whole binding, else those it may read.
    const readiness = await templateReadiness(
      sql,
      {
        kind: binding.kind,
        namespace,
        name: binding.templateName,
        label: BINDING_LABEL,
        value: `${namespace}.${name}`,
      },
      { within: stored === binding ? undefined : [...readable], except: unknownClusters },
    );
    return {
      ...shownBinding(binding),
      clusterStatus,
      readiness: { ...readiness, unknownClusters },
      works: works.map((w) => ({
        cluster: w.cluster,
        generation: w.generation,
        action: w.action,
        applied: w.applied,
        status: w.status,
      })),
    };
  });
}
