import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Principal } from "@atoll/access";

/** Headers that describe one hop, not the message; a proxy never passes them on. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/**
 * Headers that carry the caller's credentials or identity for the hub. They never reach a member
 * cluster: the gateway authenticates with the cluster's own credential and states the identity
 * itself, so a caller cannot choose whom to impersonate.
 */
const CREDENTIALS = /^(authorization|cookie|impersonate-.*|x-remote-.*)$/;

export type HeaderList = { name: string; values: string[] }[];

/** The caller's request headers a member cluster should see; upgrades keep their handshake. */
export function requestHeadersToForward(
  headers: Record<string, string | string[] | undefined>,
  upgrade = false,
): HeaderList {
  const keep = upgrade ? new Set(["connection", "upgrade"]) : new Set<string>();
  const list: HeaderList = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || CREDENTIALS.test(name) || (HOP_BY_HOP.has(name) && !keep.has(name))) continue;
    list.push({ name, values: [value].flat() });
  }
  return list;
}

/** A member cluster's response headers the caller should see. */
export function responseHeadersToForward(headers: IncomingHttpHeaders | HeaderList): HeaderList {
  const entries = Array.isArray(headers)
    ? headers.map((h) => [h.name.toLowerCase(), h.values] as const)
    : Object.entries(headers).map(
        ([name, value]) => [name, value === undefined ? [] : [value].flat()] as const,
      );
  return entries
    .filter(([name, values]) => values.length > 0 && !HOP_BY_HOP.has(name) && name !== "set-cookie")
    .map(([name, values]) => ({ name, values: [...values] }));
}

/** Node's rawHeaders (name, value, name, value, …) as a header list, every header kept. */
function rawHeaderList(raw: string[]): HeaderList {
  return Array.from({ length: raw.length / 2 }, (_, i) => ({ name: raw[2 * i]!, values: [raw[2 * i + 1]!] }));
}

/**
 * The status and headers to pass on of an API server's answer to an upgrade: a 101 keeps its
 * handshake headers (Upgrade, Sec-WebSocket-Accept, the stream protocol); any other answer is
 * forwarded as usual.
 */
export function upgradeHead(
  response: IncomingMessage,
  switched: boolean,
): { status: number; headers: HeaderList } {
  return switched
    ? { status: response.statusCode ?? 101, headers: rawHeaderList(response.rawHeaders) }
    : { status: response.statusCode ?? 502, headers: responseHeadersToForward(response.headers) };
}

export function toOutgoing(list: HeaderList): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const { name, values } of list) out[name] = values.length === 1 ? values[0] : values;
  return out;
}

/** Whom a request acts as in a member cluster, so its RBAC applies on top of the hub's grants. */
export interface ClusterIdentity {
  user: string;
  groups: string[];
}

/**
 * The member-cluster identity of an Atoll caller: user `atoll:<token name>`, in the groups
 * `atoll:authenticated` and `atoll:role:<role>`, which member RoleBindings can name.
 */
export function clusterIdentity(principal: Principal): ClusterIdentity {
  return {
    user: `atoll:${principal.name}`,
    groups: ["atoll:authenticated", `atoll:role:${principal.role}`],
  };
}

/** Kubernetes impersonation headers for an identity, as a header list. */
export function impersonationHeaders(identity: ClusterIdentity | undefined): HeaderList {
  if (!identity) return [];
  return [
    { name: "impersonate-user", values: [identity.user] },
    ...(identity.groups.length ? [{ name: "impersonate-group", values: identity.groups }] : []),
  ];
}
