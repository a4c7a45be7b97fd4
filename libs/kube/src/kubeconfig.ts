/**
 * A one-context kubeconfig for a server and a bearer token. JSON is valid YAML, so kubectl and
 * client libraries read it as they read any kubeconfig.
 */
export function tokenKubeconfig(options: {
  name: string;
  server: string;
  caCert?: string;
  token?: string;
}): string {
  const { name, server, caCert, token } = options;
  return `${JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name,
          cluster: {
            server,
            ...(caCert ? { "certificate-authority-data": Buffer.from(caCert).toString("base64") } : {}),
          },
        },
      ],
      users: [{ name, user: token ? { token } : {} }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      "current-context": name,
    },
    null,
    2,
  )}\n`;
}
