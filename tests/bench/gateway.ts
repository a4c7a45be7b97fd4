/**
 * npm run bench:gateway: what the live gateway adds, measured in one run and printed, never asserted.
 *
 * Two sims, one registered in push mode (the hub dials it) and one in pull mode (its agent answers
 * over NATS). For each, the same GETs go straight to the sim and through
 * /proxy/clusters/<name>, BENCH_RUNS times over one keep-alive client, and the p50 and p99 of each
 * are printed with the added latency and the ratio. Then a watch through the pull gateway and one
 * straight to the sim each receive BENCH_WATCH_EVENTS changes made as fast as the sim can, and
 * the events per second are printed. Last, kubectl port-forward carries BENCH_FORWARD_MIB MiB to an
 * echo behind a pod and back: straight to the sim, through the gateway to the push cluster, and
 * through the gateway and the agent to the pull cluster.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { KubeSim, selfSignedTls } from "@atoll/kube-sim";
import { Agent, fetch } from "undici";
import { TestHub } from "../support/hub.js";
import { kubectlPortForward } from "../support/kubectl.js";
import { percentile } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WATCH_EVENTS = Number(process.env.BENCH_WATCH_EVENTS ?? 5000);
const LIST_SIZE = 500;
const FORWARD_MIB = Number(process.env.BENCH_FORWARD_MIB ?? 32);

/** What the sims' pods forward to: an echo server, so every byte makes the round trip. */
const echo = createServer((socket) => socket.pipe(socket));
const toEcho = async (): Promise<Duplex> => connect((echo.address() as AddressInfo).port, "127.0.0.1");

/** Sends `bytes` through a local port and waits for all of them to come back; MiB/s. */
async function echoRate(port: number, bytes: number): Promise<number> {
  const payload = randomBytes(1024 * 1024);
  const begin = performance.now();
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) {
        socket.destroy();
        resolve();
      }
    });
    socket.on("error", reject);
    socket.on("connect", async () => {
      for (let sent = 0; sent < bytes; sent += payload.length)
        if (!socket.write(payload)) await once(socket, "drain");
    });
  });
  return bytes / (1024 * 1024) / ((performance.now() - begin) / 1000);
}

function fill(sim: KubeSim): void {
  sim.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } });
  for (let i = 0; i < LIST_SIZE; i++)
    sim.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `cm-${i}`, namespace: "bench", labels: { app: `app-${i % 20}` } },
      data: { payload: "x".repeat(1000) },
    });
}

async function main(): Promise<void> {
  const hub = new TestHub({
    env: { ATOLL_SECRET_KEY: randomBytes(32).toString("base64"), LOG_LEVEL: "warn" },
  });
  const push = new KubeSim({ name: "bench-push", token: "p", portForward: toEcho });
  const pull = new KubeSim({ name: "bench-pull", token: "q", portForward: toEcho });
  await Promise.all([push.start(), pull.start()]);
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  fill(push);
  fill(pull);
  await hub.start();
  try {
    await hub.send("POST", "/api/v1/clusters", {
      mode: "push",
      name: "bench-push",
      kubeconfig: push.kubeconfig(),
    });
    await hub.send("POST", "/api/v1/clusters", { mode: "pull", name: "bench-pull" });
    hub.startAgent(pull, { ATOLL_MODE: "pull", LOG_LEVEL: "warn" });
    const sims = { "bench-push": push, "bench-pull": pull };
    const tokens: Record<string, string> = { "bench-push": "p", "bench-pull": "q" };
    const client = new Agent({ connect: { ca: [hub.tls.cert, (await selfSignedTls()).cert] } });
    const get = async (cluster: keyof typeof sims, path: string, via: "direct" | "gateway") => {
      const url =
        via === "direct" ? `${sims[cluster].url}${path}` : `${hub.baseUrl}/proxy/clusters/${cluster}${path}`;
      const token = via === "direct" ? tokens[cluster] : hub.adminToken;
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${token}` },
        dispatcher: client,
      });
      const body = await response.arrayBuffer();
      if (!response.ok) throw new Error(`${url}: ${response.status} ${Buffer.from(body).toString()}`);
      return body.byteLength;
    };
    for (let ready = false; !ready; ) {
      ready = await get("bench-pull", "/version", "gateway").then(
        () => true,
        () => false,
      );
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // The hub's own floor: an authenticated request that reaches no cluster.
    const floor: number[] = [];
    for (let run = 0; run < RUNS + 5; run++) {
      const begin = performance.now();
      const response = await fetch(`${hub.baseUrl}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${hub.adminToken}` },
        dispatcher: client,
      });
      await response.arrayBuffer();
      if (run >= 5) floor.push(performance.now() - begin);
    }
    floor.sort((a, b) => a - b);
    console.log(`runs per case: ${RUNS}`);
    console.log(
      `hub floor, GET /api/v1/whoami: p50 ${percentile(floor, 50).toFixed(2)} ms, p99 ${percentile(floor, 99).toFixed(2)} ms`,
    );
    console.log(
      `${"case".padEnd(44)} ${"bytes".padStart(8)} ${"direct p50/p99 ms".padStart(18)} ${"gateway p50/p99 ms".padStart(19)} ${"added p50".padStart(10)} ${"ratio".padStart(6)}`,
    );
    for (const cluster of ["bench-push", "bench-pull"] as const) {
      for (const [label, path] of [
        ["GET one ConfigMap", "/api/v1/namespaces/bench/configmaps/cm-7"],
        [`LIST ${LIST_SIZE} ConfigMaps`, "/api/v1/namespaces/bench/configmaps"],
      ] as const) {
        const samples = { direct: [] as number[], gateway: [] as number[] };
        let bytes = 0;
        for (let run = 0; run < RUNS + 5; run++) {
          // Alternating keeps both paths under the same noise; the first runs warm up.
          for (const via of ["direct", "gateway"] as const) {
            const begin = performance.now();
            bytes = await get(cluster, path, via);
            if (run >= 5) samples[via].push(performance.now() - begin);
          }
        }
        samples.direct.sort((a, b) => a - b);
        samples.gateway.sort((a, b) => a - b);
        const [d50, d99, g50, g99] = [
          percentile(samples.direct, 50),
          percentile(samples.direct, 99),
          percentile(samples.gateway, 50),
          percentile(samples.gateway, 99),
        ];
        console.log(
          `${`${cluster.replace("bench-", "")}: ${label}`.padEnd(44)} ${String(bytes).padStart(8)} ${`${d50.toFixed(2)}/${d99.toFixed(2)}`.padStart(18)} ${`${g50.toFixed(2)}/${g99.toFixed(2)}`.padStart(19)} ${(g50 - d50).toFixed(2).padStart(10)} ${(g50 / d50).toFixed(2).padStart(6)}`,
        );
      }
    }

    const watchRate = async (via: "direct" | "gateway"): Promise<number> => {
      const path = `/api/v1/namespaces/watched-${via}/configmaps?watch=true&resourceVersion=${pull.store.resourceVersion}`;
      const url = via === "direct" ? `${pull.url}${path}` : `${hub.baseUrl}/proxy/clusters/bench-pull${path}`;
      const token = via === "direct" ? "q" : hub.adminToken;
      const abort = new AbortController();
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${token}` },
        dispatcher: client,
        signal: abort.signal,
      });
      if (!response.ok || !response.body) throw new Error(`${url}: ${response.status}`);
      const reader = response.body.getReader();
      const begin = performance.now();
      for (let i = 0; i < WATCH_EVENTS; i++)
        pull.apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `w-${i}`, namespace: `watched-${via}` },
          data: { payload: "y".repeat(200) },
        });
      let events = 0;
      while (events < WATCH_EVENTS) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the watch ended after ${events} events`);
        for (const byte of value) if (byte === 10) events++;
      }
      const seconds = (performance.now() - begin) / 1000;
      abort.abort();
      return WATCH_EVENTS / seconds;
    };
    const direct = await watchRate("direct");
    const gateway = await watchRate("gateway");
    console.log(
      `watch, ${WATCH_EVENTS} events of ~0.5 KB: direct ${direct.toFixed(0)} events/s, pull gateway ${gateway.toFixed(0)} events/s (ratio ${(gateway / direct).toFixed(2)})`,
    );

    for (const sim of [push, pull])
      sim.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "echo", namespace: "bench" },
        spec: { containers: [{ name: "echo", image: "echo", ports: [{ containerPort: 7 }] }] },
        status: { phase: "Running" },
      });
    const kubeconfigs = {
      direct: join(hub.dir, "bench-direct.kubeconfig"),
      push: join(hub.dir, "bench-push.kubeconfig"),
      pull: join(hub.dir, "bench-pull.kubeconfig"),
    };
    writeFileSync(kubeconfigs.direct, push.kubeconfig());
    writeFileSync(kubeconfigs.push, hub.kubeconfig("/proxy/clusters/bench-push"));
    writeFileSync(kubeconfigs.pull, hub.kubeconfig("/proxy/clusters/bench-pull"));
    const rates: Record<string, number> = {};
    for (const [path, kubeconfig] of Object.entries(kubeconfigs)) {
      const forward = await kubectlPortForward(kubeconfig, ["-n", "bench", "pod/echo", ":7"]);
      try {
        await echoRate(forward.port, 1024 * 1024);
        rates[path] = await echoRate(forward.port, FORWARD_MIB * 1024 * 1024);
      } finally {
        forward.stop();
      }
    }
    console.log(
      `port-forward, ${FORWARD_MIB} MiB to an echo and back: direct ${rates.direct!.toFixed(1)} MiB/s, push gateway ${rates.push!.toFixed(1)} MiB/s (ratio ${(rates.push! / rates.direct!).toFixed(2)}), pull gateway ${rates.pull!.toFixed(1)} MiB/s (ratio ${(rates.pull! / rates.direct!).toFixed(2)})`,
    );
  } finally {
    await hub.stop();
    await Promise.all([push.stop(), pull.stop()]);
    echo.close();
  }
}
await main();
