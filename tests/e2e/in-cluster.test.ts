import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { type KubeApiError, KubeClient } from "@atoll/kube";
import { KubeSim, selfSignedTls } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleRecorder } from "../support/loaded.js";

const run = promisify(execFile);

/**
 * An agent inside its cluster reaches the API server as a pod does: the service's address from its
 * environment, the service account's token and CA from their mount, read again when the kubelet
 * rotates the token. It does so without loading client-node, which only kubeconfigs need.
 */
describe("in-cluster credentials", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-sa-"));
  let sim: KubeSim;
  const env = { ...process.env };

  beforeAll(async () => {
    const tls = await selfSignedTls();
    sim = new KubeSim({ name: "in-cluster", token: "the-pods-token", tls });
    await sim.start();
    writeFileSync(join(dir, "ca.crt"), tls.cert);
    writeFileSync(join(dir, "token"), "the-pods-token\n");
    const url = new URL(sim.url);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
  });
  afterAll(async () => {
    process.env = env;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists with the mounted token, and reads the token again once the kubelet rotates it", async () => {
    const client = KubeClient.inCluster(dir);
    expect(client.server).toBe(sim.url);
    const list = await client.json<{ kind: string }>({ path: "/api/v1/namespaces" });
    expect(list.kind).toBe("NamespaceList");
    // A rotated token that the server does not know is sent as it is, and refused.
    writeFileSync(join(dir, "token"), "a-revoked-token\n");
    const refused = await client.json({ path: "/api/v1/namespaces" }).catch((error: unknown) => error);
    expect((refused as KubeApiError).status).toBe(401);
    writeFileSync(join(dir, "token"), "the-pods-token\n");
    expect((await client.json<{ kind: string }>({ path: "/api/v1/namespaces" })).kind).toBe("NamespaceList");
  });

  it("says to set KUBECONFIG outside a cluster", () => {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    expect(() => KubeClient.inCluster(dir)).toThrow(/not running in a cluster.*set KUBECONFIG/);
    process.env.KUBERNETES_SERVICE_HOST = host;
  });

  it("does not load client-node", async () => {
    const { register, loaded } = moduleRecorder(dir);
    const script = join(dir, "list.mjs");
    writeFileSync(
      script,
      `import { KubeClient } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("@atoll/kube")).href)};
const list = await KubeClient.inCluster(${JSON.stringify(dir)}).json({ path: "/api/v1/namespaces" });
console.log(list.kind);`,
    );
    const { stdout } = await run(process.execPath, ["--import", register, script], { env: process.env });
    expect(stdout.trim()).toBe("NamespaceList");
    const files = loaded();
    expect(files.some((url) => url.includes("/libs/kube/dist/"))).toBe(true);
    expect(files.filter((url) => url.includes("@kubernetes/client-node"))).toEqual([]);
  });
});
