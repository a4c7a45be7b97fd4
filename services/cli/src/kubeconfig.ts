import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { serversKubeconfig } from "@atoll/kube";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, readCaFile } from "./hub.js";
import { SetupError } from "./infra.js";

export const KUBECONFIG_USAGE = `atoll kubeconfig [--out FILE]: a kubeconfig for kubectl with, for each cluster you can
  see, a context live through the gateway ("atoll-<cluster>") and one over its part of the index
  ("atoll-index-<cluster>", /k8s/clusters/<cluster>), and "atoll-index" for every cluster from the
  index (/k8s/all). It holds your token: --out writes it with mode 600.
${HUB_USAGE}`;

export async function runKubeconfig(args: string[], print: (text: string) => void): Promise<void> {
  const { values } = parseArgs({ args, options: { ...HUB_OPTIONS, out: { type: "string" } } });
  const base = (values.hub ?? process.env.ATOLL_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const token = values.token ?? process.env.ATOLL_TOKEN;
  if (!token) throw new SetupError("a kubeconfig needs your token: pass --token or set ATOLL_TOKEN");
  const caFile = values["ca-file"] ?? process.env.ATOLL_CA_FILE;
  const { items } = await hubOf(values).call("GET", "/api/v1/clusters");
  const text = serversKubeconfig({
    servers: [
      { name: "atoll-index", server: `${base}/k8s/all` },
      ...(items as Any[]).flatMap((c) => [
        { name: `atoll-${c.name}`, server: `${base}/proxy/clusters/${c.name}` },
        { name: `atoll-index-${c.name}`, server: `${base}/k8s/clusters/${c.name}` },
      ]),
    ],
    token,
    ...(caFile ? { caCert: readCaFile(caFile) } : {}),
  });
  if (!values.out) return print(text.trimEnd());
  writeFileSync(values.out, text, { mode: 0o600 });
  print(
    `wrote ${values.out} with ${2 * items.length + 1} contexts; kubectl --kubeconfig ${values.out} config get-contexts`,
  );
}
