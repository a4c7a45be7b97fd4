/**
 * What a Kubernetes API request does, read from its method, path and query the way the API
 * server's request-info step reads it: the authorisation verb, the resource and the namespace.
 * The gateway authorises and audits by it; the sim authorises by it.
 */
export interface RequestInfo {
  /** Whether the path names a resource (under /api or /apis), not /version, /openapi and the like. */
  isResourceRequest: boolean;
  /** get, list, watch, create, update, patch, delete, deletecollection; or the lower-case method. */
  verb: string;
  group: string;
  version: string;
  /** Empty for cluster-scoped requests and requests across all namespaces. */
  namespace: string;
  resource: string;
  name: string;
  subresource: string;
}

export class RequestPathError extends Error {
  readonly code = "MALFORMED_PATH";
}

/** Path roots an API server serves; anything else is not a Kubernetes API request. */
const API_ROOTS = new Set(["api", "apis", "version", "openapi", "healthz", "livez", "readyz"]);

/** Subresources that open a connection upgrade: an interactive stream rather than a reply. */
export const UPGRADE_SUBRESOURCES = new Set(["exec", "attach", "portforward"]);

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/**
 * Created but never stored: questions about the caller (kubectl auth whoami, auth can-i). They
 * change nothing, so reading a cluster includes asking them.
 */
const REVIEWS = new Set([
  "authentication.k8s.io/selfsubjectreviews",
  "authorization.k8s.io/selfsubjectaccessreviews",
  "authorization.k8s.io/selfsubjectrulesreviews",
]);

/**
 * Splits an API path into decoded segments and refuses what could escape the API: empty, dot
 * and dot-dot segments, encoded slashes or backslashes, control characters, and unknown roots.
 */
export function apiPathSegments(pathname: string): string[] {
  if (!pathname.startsWith("/")) throw new RequestPathError(`the path "${pathname}" must start with "/"`);
  const raw = pathname.slice(1).split("/");
  if (raw.length > 1 && raw.at(-1) === "") raw.pop();
  const segments = raw.map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new RequestPathError(`the path segment "${segment}" is not valid percent-encoding`);
    }
    if (decoded === "" || decoded === "." || decoded === "..")
      throw new RequestPathError(`the path "${pathname}" has an empty, "." or ".." segment`);
    if (/[/\\]/.test(decoded) || /\p{Cc}/u.test(decoded))
      throw new RequestPathError(
        `the path segment "${segment}" holds a slash, backslash or control character`,
      );
    return decoded;
  });
  if (!API_ROOTS.has(segments[0] ?? ""))
    throw new RequestPathError(
      `"/${segments[0] ?? ""}" is not a Kubernetes API path; paths start with /api, /apis, /version or /openapi`,
    );
  return segments;
}

/** Reads a request the way kube-apiserver does; `segments` come from apiPathSegments. */
export function requestInfo(method: string, segments: string[], query: URLSearchParams): RequestInfo {
  const lower = method.toLowerCase();
  const info: RequestInfo = {
    isResourceRequest: false,
    verb: lower,
    group: "",
    version: "",
    namespace: "",
    resource: "",
    name: "",
    subresource: "",
  };
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 3) {
    info.version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    info.group = segments[1]!;
    info.version = segments[2]!;
    rest = segments.slice(3);
  } else return info;
  info.isResourceRequest = true;
  // The legacy /watch/ prefix means the same as ?watch=true.
  let watchPrefix = false;
  if (rest[0] === "watch") {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  if (rest[0] === "namespaces" && rest.length >= 2) {
    info.namespace = rest[1]!;
    // /namespaces/<ns> names the namespace object itself.
    if (rest.length === 2) {
      info.resource = "namespaces";
      info.name = rest[1]!;
      info.namespace = "";
    } else rest = rest.slice(2);
  }
  if (!info.resource) {
    info.resource = rest[0] ?? "";
    info.name = rest[1] ?? "";
    info.subresource = rest.slice(2).join("/");
  } else if (rest.length > 2) info.subresource = rest.slice(2).join("/");
  const watching = watchPrefix || ["true", "1"].includes(query.get("watch") ?? "");
  const byMethod: Record<string, string> = {
    post: "create",
    put: "update",
    patch: "patch",
    delete: info.name ? "delete" : "deletecollection",
    get: info.name ? (watching ? "watch" : "get") : watching ? "watch" : "list",
    head: info.name ? "get" : "list",
  };
  info.verb = byMethod[lower] ?? lower;
  return info;
}

/** A request target read for requestInfo: its path, its query, and what the request does. */
export interface RequestTarget {
  pathname: string;
  /** The query as sent, with its leading "?"; empty when there is none. */
  search: string;
  query: URLSearchParams;
  info: RequestInfo;
}

/**
 * Reads a raw request target ("/api/v1/pods?watch=1"). Not new URL(), which would quietly
 * resolve ".." segments instead of refusing them. Throws RequestPathError.
 */
export function readRequestTarget(method: string, target: string): RequestTarget {
  const queryAt = target.indexOf("?");
  const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
  const search = queryAt < 0 ? "" : target.slice(queryAt);
  const query = new URLSearchParams(search);
  return { pathname, search, query, info: requestInfo(method, apiPathSegments(pathname), query) };
}

/** Whether the request changes the cluster: writes, and any interactive stream into a pod. */
export function isWrite(info: RequestInfo, method: string): boolean {
  if (!info.isResourceRequest) return !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());
  if (info.verb === "create" && REVIEWS.has(`${info.group}/${info.resource}`)) return false;
  return WRITE_VERBS.has(info.verb) || UPGRADE_SUBRESOURCES.has(info.subresource);
}

/** Whether the answer streams until the client hangs up: a watch or a followed log. */
export function isStreaming(info: RequestInfo, query: URLSearchParams): boolean {
  return (
    info.verb === "watch" ||
    (info.subresource === "log" && ["true", "1"].includes(query.get("follow") ?? "")) ||
    UPGRADE_SUBRESOURCES.has(info.subresource)
  );
}
