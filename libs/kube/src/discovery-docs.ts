import { STATUS_CODES } from "node:http";
import { apiVersionOf, type ResourceType } from "./catalog.js";
import type { JsonObject } from "./json-object.js";

export interface DiscoveryOptions {
  verbs: string[];
  /** Also list each type's status subresource (servers that accept writes do). */
  statusSubresource?: boolean;
  gitVersion: string;
  gitCommit: string;
}

function groups(types: ResourceType[]): JsonObject[] {
  const byGroup = new Map<string, string[]>();
  for (const t of types) {
    if (t.group === "") continue;
    const versions = byGroup.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    byGroup.set(t.group, versions);
  }
  return [...byGroup].map(([name, versions]) => {
    const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: list, preferredVersion: list[0] };
  });
}

function resourceList(
  types: ResourceType[],
  group: string,
  version: string,
  options: DiscoveryOptions,
): JsonObject | undefined {
  const served = types.filter((t) => t.group === group && t.version === version);
  if (served.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf({ group, version }),
    resources: served.flatMap((t) => [
      {
        name: t.resource,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: options.verbs,
        ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
        ...(t.categories.length ? { categories: t.categories } : {}),
      },
      ...(options.statusSubresource
        ? [
            {
              name: `${t.resource}/status`,
              singularName: "",
              namespaced: t.namespaced,
              kind: t.kind,
              verbs: ["get", "patch", "update"],
            },
          ]
        : []),
    ]),
  };
}

/**
 * Legacy discovery (/version, /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>) for a set of
 * types, as kubectl reads it. Undefined for any other path.
 */
export function discoveryDocument(
  types: ResourceType[],
  parts: string[],
  options: DiscoveryOptions,
): JsonObject | undefined {
  const path = parts.join("/");
  if (path === "version") {
    const [, major, minor] = /^v(\d+)\.(\d+)/.exec(options.gitVersion) ?? ["", "1", "30"];
    return {
      major,
      minor,
      gitVersion: options.gitVersion,
      platform: "linux/amd64",
      goVersion: "go1.22",
      compiler: "gc",
      buildDate: "2026-01-01T00:00:00Z",
      gitCommit: options.gitCommit,
      gitTreeState: "clean",
    };
  }
  if (path === "api")
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
    };
  if (path === "apis") return { kind: "APIGroupList", apiVersion: "v1", groups: groups(types) };
  if (path === "api/v1") return resourceList(types, "", "v1", options);
  if (parts[0] === "apis" && parts.length === 2) {
    const group = groups(types).find((g) => g.name === parts[1]);
    return group ? { kind: "APIGroup", apiVersion: "v1", ...group } : undefined;
  }
  if (parts[0] === "apis" && parts.length === 3) return resourceList(types, parts[1]!, parts[2]!, options);
  return undefined;
}

/** A Kubernetes Status object, the error body kubectl understands. */
export function statusObject(code: number, reason: string, message: string): JsonObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

/**
 * A refused upgrade as the raw bytes of a whole HTTP response, for a socket that no HTTP
 * response object owns (exec and port-forward arrive on the server's upgrade event).
 */
export function statusResponseText(code: number, reason: string, message: string): string {
  const body = JSON.stringify(statusObject(code, reason, message));
  return `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

export interface ResourceRoute {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/**
 * Reads a resource path (/api/v1/..., /apis/<g>/<v>/..., with or without /namespaces/<ns>) given
 * a lookup of served types; undefined when it names nothing served.
 */
export function resourceRoute(
  parts: string[],
  findType: (group: string, version: string, resource: string) => ResourceType | undefined,
): ResourceRoute | undefined {
  let rest: string[];
  let group: string;
  let version: string;
  if (parts[0] === "api" && parts[1] === "v1") {
    group = "";
    version = "v1";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    const type = findType(group, version, rest[2]!);
    if (type?.namespaced)
      return {
        type,
        namespace: rest[1]!,
        ...(rest[3] ? { name: rest[3] } : {}),
        ...(rest[4] ? { subresource: rest[4] } : {}),
      };
  }
  const type = findType(group, version, rest[0] ?? "");
  if (!type || rest.length > 3) return undefined;
  return { type, ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { subresource: rest[2] } : {}) };
}
