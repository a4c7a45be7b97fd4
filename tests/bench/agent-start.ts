/**
 * npm run bench:agent-start — the agent's resident memory once it has started and synced a small
 * cluster: what an agent costs a member cluster before it watches anything large. The agent runs
 * in push mode here (pull mode needs a registration); both modes load the same modules.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim, selfSignedTls } from "@atoll/kube-sim";
import { TestHub } from "../support/hub.js";
import { percentile, rssMb } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const run = promisify(execFile);
const resolve = (pkg: string) => pathToFileURL(createRequire(import.meta.url).resolve(pkg)).href;

/**
 * A pull agent in its cluster cannot be started here (it needs a pod's mounts), so this measures
 * what it loads: the agent's libraries and a client made as the agent makes it, after one list.
 */
async function librariesRss(inCluster: boolean, dir: string, kubeconfig: string): Promise<number> {
  const script = join(dir, `rss-${inCluster}.mjs`);
  writeFileSync(
    script,
    `import { KubeClient } from ${JSON.stringify(resolve("@atoll/kube"))};
import ${JSON.stringify(resolve("@atoll/sync"))};
import ${JSON.stringify(resolve("@atoll/bus"))};
import ${JSON.stringify(resolve("@atoll/gateway/responder"))};
const client = ${inCluster ? `KubeClient.inCluster(${JSON.stringify(dir)})` : `KubeClient.fromKubeconfig(${JSON.stringify(kubeconfig)})`};
await client.json({ path: "/api/v1/namespaces" });
globalThis.gc?.();
console.log(process.memoryUsage().rss);`,
  );
  const url = new URL(sim.url);
  const { stdout } = await run(process.execPath, ["--expose-gc", script], {
    env: { ...process.env, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
  });
  return Number(stdout.trim()) / 2 ** 20;
}
const tls = await selfSignedTls();
const sim = new KubeSim({ name: "footprint", token: "t", tls });
generateCluster(sim, { seed: 7, namespaces: ["default"], deploymentsPerNamespace: 2, maxReplicas: 1 });
await sim.start();
const hub = await new TestHub().start();
const samples: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const agent = hub.startAgent(sim, { LOG_LEVEL: "info" }, `agent-${run}`);
    const started = () => existsSync(agent.log) && readFileSync(agent.log, "utf8").includes("agent started");
    await until(started, "the agent to start", 60_000);
    await hub.waitIndexed(sim, 60_000);
    // Let start-up garbage be collected as it would be on an idle agent.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    samples.push(rssMb(agent.process.pid!));
    await agent.stop();
  }
} finally {
  await hub.stop();
}
const dir = mkdtempSync(join(tmpdir(), "atoll-rss-"));
writeFileSync(join(dir, "token"), "t");
writeFileSync(join(dir, "ca.crt"), tls.cert);
const libraries = { inCluster: [] as number[], kubeconfig: [] as number[] };
for (let i = 0; i < RUNS; i++) {
  libraries.inCluster.push(await librariesRss(true, dir, sim.kubeconfig()));
  libraries.kubeconfig.push(await librariesRss(false, dir, sim.kubeconfig()));
}
rmSync(dir, { recursive: true, force: true });
for (const list of Object.values(libraries)) list.sort((a, b) => a - b);
samples.sort((a, b) => a - b);
console.log(
  `agent RSS after start (${RUNS} starts, ${sim.store.count()} objects): p50 ${percentile(samples, 50).toFixed(0)} MB, min ${samples[0]!.toFixed(0)} MB, max ${samples.at(-1)!.toFixed(0)} MB`,
);
console.log(
  `the agent's libraries after one list, p50 of ${RUNS}: ${percentile(libraries.inCluster, 50).toFixed(0)} MB with the in-cluster client, ${percentile(libraries.kubeconfig, 50).toFixed(0)} MB with a kubeconfig client (client-node)`,
);
await sim.stop();
