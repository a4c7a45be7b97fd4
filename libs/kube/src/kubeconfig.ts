/**
 * A kubeconfig with one context per server, all with the same bearer token and CA. JSON is valid
 * YAML, so kubectl and client libraries read it as they read any kubeconfig.
 */
export function serversKubeconfig(options: {
  servers: { name: string; server: string }[];
  caCert?: string;
  token?: string;
  current?: string;
}): string {
  const { servers, caCert, token } = options;
  return `${JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: servers.map(({ name, server }) => ({
        name,
        cluster: {
          server,
          ...(caCert ? { "certificate-authority-data": Buffer.from(caCert).toString("base64") } : {}),
        },
      })),
      // A user per context, named as it is, so kubeconfigs merged by name keep each credential.
      users: servers.map(({ name }) => ({ name, user: token ? { token } : {} })),
      contexts: servers.map(({ name }) => ({ name, context: { cluster: name, user: name } })),
      "current-context": options.current ?? servers[0]?.name ?? "",
    },
    null,
    2,
  )}\n`;
}

/** A one-context kubeconfig for a server and a bearer token. */
export function tokenKubeconfig(options: {
  name: string;
  server: string;
  caCert?: string;
  token?: string;
}): string {
  const { name, server, ...rest } = options;
  return serversKubeconfig({ servers: [{ name, server }], ...rest });
}
