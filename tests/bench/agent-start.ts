/**
 * npm run bench:agent-start — the agent's resident memory once it has started and synced a small
 * cluster: what an agent costs a member cluster before it watches anything large. The agent runs
 * in push mode here (pull mode needs a registration); both modes load the same modules.
 */
import { existsSync, readFileSync } from "node:fs";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { TestHub } from "../support/hub.js";
import { percentile, rssMb } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const sim = new KubeSim({ name: "footprint", token: "t" });
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
  await sim.stop();
}
samples.sort((a, b) => a - b);
console.log(
  `agent RSS after start (${RUNS} starts, ${sim.store.count()} objects): p50 ${percentile(samples, 50).toFixed(0)} MB, min ${samples[0]!.toFixed(0)} MB, max ${samples.at(-1)!.toFixed(0)} MB`,
);
