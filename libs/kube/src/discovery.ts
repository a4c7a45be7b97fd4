import type { ResourceType } from "./catalog.js";
import type { KubeClient } from "./client.js";

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

/** Every list-and-watchable resource the server serves (subresources excluded), via legacy discovery. */
export async function discoverResourceTypes(
  client: KubeClient,
  signal?: AbortSignal,
): Promise<ResourceType[]> {
  const groupVersions: { group: string; version: string; path: string }[] = [
    { group: "", version: "v1", path: "/api/v1" },
  ];
  const groups = await client.json<{
    groups: { name: string; preferredVersion?: { version: string }; versions: { version: string }[] }[];
  }>({
    path: "/apis",
    ...(signal ? { signal } : {}),
  });
  for (const group of groups.groups) {
    const version = group.preferredVersion?.version ?? group.versions[0]?.version;
    if (version) groupVersions.push({ group: group.name, version, path: `/apis/${group.name}/${version}` });
  }
  const types: ResourceType[] = [];
  for (const gv of groupVersions) {
    const list = await client.json<{ resources: ApiResource[] }>({
      path: gv.path,
      ...(signal ? { signal } : {}),
    });
    for (const r of list.resources) {
      if (r.name.includes("/") || !r.verbs.includes("list") || !r.verbs.includes("watch")) continue;
      types.push({
        group: gv.group,
        version: gv.version,
        resource: r.name,
        kind: r.kind,
        namespaced: r.namespaced,
        shortNames: r.shortNames ?? [],
        categories: r.categories ?? [],
      });
    }
  }
  return types;
}
