import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@atoll/bus";
import { freePort, type ServiceProcess, spawnService, until } from "@atoll/devkit";
import type { KubeSim } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { temporaryDatabase } from "@atoll/store";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/**
 * A hub made of the real service processes (indexer, query, one agent per sim) on a fresh
 * database and bus prefix, torn down by stop().
 */
export interface TestHubOptions {
  natsUrl?: string;
  /** Extra environment for every service, e.g. NATS credentials or ATOLL_SECRET_KEY. */
  env?: Record<string, string>;
}

export class TestHub {
  readonly agents = new Map<string, ServiceProcess>();
  readonly indexers: ServiceProcess[] = [];
  indexer!: ServiceProcess;
  query!: ServiceProcess;
  bus!: Bus;
  baseUrl = "";
  databaseUrl = "";
  private dropDatabase: () => Promise<void> = async () => {};
  readonly prefix = `t${randomBytes(4).toString("hex")}`;
  readonly dir = mkdtempSync(join(tmpdir(), "atoll-hub-"));

  constructor(private readonly options: TestHubOptions = {}) {}

  get natsUrl(): string {
    return this.options.natsUrl ?? NATS_URL;
  }

  env(): Record<string, string> {
    return {
      ...this.options.env,
      NATS_URL: this.natsUrl,
      DATABASE_URL: this.databaseUrl,
      ATOLL_BUS_PREFIX: this.prefix,
      LOG_LEVEL: "debug",
      INDEXER_ACK_WAIT_MS: "2000",
      INDEXER_LEASE_TTL_MS: "3000",
    };
  }

  async start(): Promise<this> {
    const database = await temporaryDatabase("e2e");
    this.databaseUrl = database.url;
    this.dropDatabase = database.drop;
    this.bus = await Bus.connect({
      url: NATS_URL,
      name: "test-hub",
      prefix: this.prefix,
      logger: silentLogger(),
    });
    await this.bus.ensureTopology();
    const port = await freePort();
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.startIndexer();
    this.query = spawnService("query", "@atoll/query", { ...this.env(), PORT: String(port) }, this.dir);
    await until(
      () =>
        fetch(`${this.baseUrl}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      "the query service to be ready",
    );
    return this;
  }

  /** Starts an agent for a sim; extra env selects the mode (pull credentials, rules, ...). */
  startAgent(sim: KubeSim, extra: Record<string, string> = {}, name = `agent-${sim.name}`): ServiceProcess {
    const kubeconfig = join(this.dir, `${sim.name}.kubeconfig`);
    writeFileSync(kubeconfig, sim.kubeconfig());
    const env = {
      ...this.env(),
      ATOLL_CLUSTER: sim.name,
      KUBECONFIG: kubeconfig,
      HEARTBEAT_INTERVAL_MS: "1000",
      ...extra,
    };
    const agent = spawnService(name, "@atoll/agent", env, this.dir);
    this.agents.set(name, agent);
    return agent;
  }

  /** An agent in hub mode: syncs every registered push cluster. */
  startHubAgent(): ServiceProcess {
    const env = { ...this.env(), ATOLL_MODE: "hub", HEARTBEAT_INTERVAL_MS: "1000" };
    const agent = spawnService("agent-hub", "@atoll/agent", env, this.dir);
    this.agents.set("agent-hub", agent);
    return agent;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read API answers as loose JSON
  async send(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const init =
      body === undefined
        ? { method }
        : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const response = await fetch(`${this.baseUrl}${path}`, init);
    return { status: response.status, body: await response.json() };
  }

  /** Starts another indexer process; several share the clusters between them. */
  startIndexer(name = "indexer"): ServiceProcess {
    this.indexer = spawnService(name, "@atoll/indexer", this.env(), this.dir);
    this.indexers.push(this.indexer);
    return this.indexer;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read API answers as loose JSON
  async get(path: string): Promise<any> {
    const response = await fetch(`${this.baseUrl}${path}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  /** Every object of the sim is in the index, per the clusters endpoint. */
  async waitIndexed(sim: KubeSim, timeoutMs = 60_000): Promise<void> {
    await until(
      async () => {
        const { items } = await this.get("/api/v1/clusters");
        return items.some(
          (c: { name: string; objects: number }) => c.name === sim.name && c.objects === sim.store.count(),
        );
      },
      `${sim.name} to be fully indexed (logs in ${this.dir})`,
      timeoutMs,
      100,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await Promise.all([...this.indexers.map((i) => i.stop()), this.query?.stop()]);
    if (this.bus) {
      for (const stream of Object.values(this.bus.names.streams))
        await this.bus.jsm.streams.delete(stream).catch(() => false);
      await this.bus.jsm.streams.delete(`KV_${this.bus.names.clustersBucket}`).catch(() => false);
      await this.bus.close();
    }
    await this.dropDatabase();
  }
}
