import { can, type Principal } from "@atoll/access";
import type { JsonObject } from "@atoll/kube";
import {
  annotated,
  apiVersionOf,
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  type ResourceRoute,
  SelectorError,
  statusObject,
  type TableOptions,
  toTable,
  wantsTable,
} from "@atoll/kube";
import { type Condition, type Cursor, QueryError, searchPostgres } from "@atoll/search";
import {
  type ChangeEvent,
  type ChangeFeed,
  type Database,
  latestChangeId,
  oldestChangeId,
  readChanges,
} from "@atoll/store";
import type { FastifyReply, FastifyRequest } from "fastify";
import type postgres from "postgres";

export interface WatchScope {
  route: ResourceRoute;
  cluster?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
  /** The list conditions (scope, selectors and grants), for the initial ADDED events. */
  conditions: Condition | undefined;
  principal: Principal;
  /** The columns a Table answer has besides the kind's own (the list's, so a watch's rows match). */
  columns: Pick<TableOptions, "leadingColumns" | "printerColumns">;
}

const CATCH_UP_BATCH = 1000;
/** The longest watch a client may ask for; kube-apiserver's own default is under an hour. */
const MAX_WATCH_SECONDS = 86_400;

/** Whether a change belongs to a watch: type, scope, selectors, and the caller's grants. */
function belongs(event: ChangeEvent, scope: WatchScope): boolean {
  const { route } = scope;
  const object = event.object as JsonObject;
  return (
    event.apiGroup === route.type.group &&
    event.kind === route.type.kind &&
    (!scope.cluster || event.cluster === scope.cluster) &&
    (!route.namespace || event.namespace === route.namespace) &&
    (!route.name || event.name === route.name) &&
    can(scope.principal, "read", { cluster: event.cluster, namespace: event.namespace, kind: event.kind }) &&
    matchesLabels(object.metadata?.labels, scope.labels) &&
    matchesFields(object, scope.fields)
  );
}

/**
 * A Kubernetes watch over the index. Events come from the change history, which the indexers
 * announce on the bus. Each event's resourceVersion is its change id, the same counter list
 * responses carry, so a client can resume a watch where a list or an earlier watch stopped.
 */
export async function serveWatch(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { db: Database; sql: postgres.Sql; feed: ChangeFeed },
  scope: WatchScope,
): Promise<void> {
  const params = request.query as Record<string, string | undefined>;
  const table = wantsTable(request.headers.accept);
  const raw = reply.raw;
  let headersSent = false;
  let delivered = 0n;
  const write = (type: string, object: JsonObject, id: bigint) => {
    const versioned = { ...object, metadata: { ...object.metadata, resourceVersion: id.toString() } };
    const payload = table
      ? toTable(
          route.type,
          [versioned],
          { resourceVersion: id.toString() },
          {
            includeObject: params.includeObject,
            omitHeaders: headersSent,
            ...scope.columns,
          },
        )
      : versioned;
    headersSent = true;
    raw.write(`${JSON.stringify({ type, object: payload })}\n`);
  };
  const { route } = scope;
  const emit = (events: ChangeEvent[]) => {
    for (const event of events) {
      if (event.id <= delivered) continue;
      delivered = event.id;
      if (belongs(event, scope)) write(event.type, annotated(event), event.id);
    }
  };

  // Asked for before the stream opens, so a bad value is a plain 400 as a list would answer.
  const timeoutText = params.timeoutSeconds ?? "0";
  if (!/^\d{1,12}$/.test(timeoutText))
    return void reply
      .status(400)
      .type("application/json")
      .send(
        statusObject(
          400,
          "BadRequest",
          `timeoutSeconds "${timeoutText.slice(0, 40)}" is not a whole number of seconds`,
        ),
      );
  const timeoutSeconds = Math.min(Number(timeoutText), MAX_WATCH_SECONDS);

  reply.hijack();
  raw.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" });
  raw.flushHeaders();

  // Live events are buffered while the history catches up to where the feed stands.
  const buffered: ChangeEvent[] = [];
  let live = false;
  const unsubscribe = deps.feed.subscribe((events) => (live ? emit(events) : buffered.push(...events)));
  const close = () => {
    unsubscribe();
    clearTimeout(timeout);
    clearInterval(bookmarks);
    if (!raw.writableEnded) raw.end();
  };
  // The response, not the request: a request without a body may have closed before this runs.
  raw.on("close", close);
  const timeout = timeoutSeconds > 0 ? setTimeout(close, timeoutSeconds * 1000) : undefined;
  const bookmarks =
    params.allowWatchBookmarks === "true"
      ? setInterval(() => {
          raw.write(
            `${JSON.stringify({ type: "BOOKMARK", object: { kind: route.type.kind, apiVersion: apiVersionOf(route.type), metadata: { resourceVersion: delivered.toString() } } })}\n`,
          );
        }, 10_000)
      : undefined;

  try {
    const since = params.resourceVersion;
    const upTo = deps.feed.position;
    if (!since || since === "0") {
      // No starting point: the current objects as ADDED, then every change after them.
      delivered = await latestChangeId(deps.sql);
      let after: Cursor | undefined;
      do {
        const page = await searchPostgres(
          deps.db,
          { ...(scope.conditions ? { where: scope.conditions } : {}), orderBy: [] },
          { limit: 500, ...(after ? { after } : {}) },
        );
        for (const item of page.items) write("ADDED", annotated(item), delivered);
        after = page.next && !("offset" in page.next) ? page.next : undefined;
      } while (after && !raw.writableEnded);
    } else {
      if (!/^\d+$/.test(since)) {
        raw.end(
          `${JSON.stringify({ type: "ERROR", object: statusObject(400, "BadRequest", `resourceVersion "${since}" is not a number from this API`) })}\n`,
        );
        return close();
      }
      delivered = BigInt(since);
      // A version the index has not reached yet would be waited for in silence forever.
      if (delivered > upTo && delivered > (await latestChangeId(deps.sql))) {
        raw.end(
          `${JSON.stringify({ type: "ERROR", object: statusObject(504, "Timeout", `Too large resource version: ${since}, current: ${upTo}; list again to get a current one`) })}\n`,
        );
        return close();
      }
      const oldest = await oldestChangeId(deps.sql);
      if (oldest > 0n && delivered < oldest - 1n) {
        raw.end(
          `${JSON.stringify({ type: "ERROR", object: statusObject(410, "Expired", `too old resource version: ${since} (${oldest - 1n}); list again`) })}\n`,
        );
        return close();
      }
    }
    for (let after = delivered; after < upTo && !raw.writableEnded; ) {
      const { events, last } = await readChanges(deps.sql, after, CATCH_UP_BATCH, upTo);
      emit(events);
      if (last === undefined) break;
      after = last;
      if (delivered < last) delivered = last;
    }
    live = true;
    emit(buffered.splice(0));
  } catch (error) {
    // A selector the SQL could not take is the caller's mistake, as the list answers it.
    if (error instanceof QueryError || error instanceof SelectorError) {
      raw.write(
        `${JSON.stringify({ type: "ERROR", object: statusObject(400, "BadRequest", error.message) })}\n`,
      );
      return close();
    }
    request.log.error({ err: error }, "watch failed");
    raw.write(
      `${JSON.stringify({ type: "ERROR", object: statusObject(500, "InternalError", "the watch failed; the error is logged with this request id") })}\n`,
    );
    close();
  }
}
