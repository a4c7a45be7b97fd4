import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Bus } from "@atoll/bus";
import { parseSecretKey, workKey } from "@atoll/config";
import { freePort, type ServiceProcess, serviceEntry, spawnService, until } from "@atoll/devkit";
import { tokenKubeconfig } from "@atoll/kube";
import { type KubeSim, selfSignedTls, type TlsMaterial } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { temporaryDatabase } from "@atoll/store";
import { Agent, fetch } from "undici";

const run = promisify(execFile);

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/**
 * A hub made of the real service processes (indexer, query, one agent per sim) on a fresh
 * database and bus prefix, torn down by stop().
 */
export interface TestHubOptions {
  natsUrl?: string;
  /** Extra environment for every service, e.g. NATS credentials or ATOLL_SECRET_KEY; it wins over the defaults. */
  env?: Record<string, string>;
  /** The database URL the services use, from the test database's (to route them through a proxy). */
  serviceDatabaseUrl?: (url: string) => string;
  /** The PostgreSQL server the hub's database is made on; the shared one unless a test runs its own. */
  postgresUrl?: string;
}

export class TestHub {
  readonly agents = new Map<string, ServiceProcess>();
  readonly indexers: ServiceProcess[] = [];
  readonly queries: ServiceProcess[] = [];
  indexer!: ServiceProcess;
  query!: ServiceProcess;
  scheduler: ServiceProcess | undefined;
  bus!: Bus;
  baseUrl = "";
  /** The bootstrap admin token the query service accepts; hub.fetch sends it unless told otherwise. */
  readonly adminToken = randomBytes(24).toString("hex");
  /** The query service's self-signed certificate, trusted by hub.fetch and written into kubeconfigs. */
  tls!: TlsMaterial;
  private dispatcher!: Agent;
  databaseUrl = "";
  private dropDatabase: () => Promise<void> = async () => {};
  readonly prefix = `t${randomBytes(4).toString("hex")}`;
  readonly dir = mkdtempSync(join(tmpdir(), "atoll-hub-"));

  constructor(private readonly options: TestHubOptions = {}) {}

  get natsUrl(): string {
    return this.options.natsUrl ?? NATS_URL;
  }

  /** Every service's environment: the test hub's short leases and waits, unless options.env says otherwise. */
  env(): Record<string, string> {
    return {
      NATS_URL: this.natsUrl,
      DATABASE_URL: this.options.serviceDatabaseUrl?.(this.databaseUrl) ?? this.databaseUrl,
      ATOLL_BUS_PREFIX: this.prefix,
      LOG_LEVEL: "debug",
      INDEXER_ACK_WAIT_MS: "2000",
      INDEXER_LEASE_TTL_MS: "3000",
      ATOLL_LEADER_LEASE_MS: "3000",
      ATOLL_CROSS_OBJECT_MS: "1000",
      ...this.options.env,
    };
  }

  async start(): Promise<this> {
    const database = await temporaryDatabase("e2e", this.options.postgresUrl);
    this.databaseUrl = database.url;
    this.dropDatabase = database.drop;
    this.bus = await Bus.connect({
      url: this.natsUrl,
      name: "test-hub",
      ...(this.options.env?.NATS_CREDENTIALS ? { credentialsFile: this.options.env.NATS_CREDENTIALS } : {}),
      prefix: this.prefix,
      logger: silentLogger(),
      topology: { replicas: Number(this.options.env?.ATOLL_BUS_REPLICAS ?? 1) },
    });
    // A NATS cluster takes streams only once it has elected its JetStream leader, a moment after
    // its servers listen.
    let refusal = "";
    await until(
      () =>
        this.bus.ensureTopology().then(
          () => true,
          (error: Error) => {
            refusal = error.message;
            return false;
          },
        ),
      "NATS to take the hub's streams",
      60_000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (last refusal: ${refusal})`);
    });
    this.tls = await selfSignedTls();
    this.dispatcher = new Agent({ connect: { ca: this.tls.cert } });
    writeFileSync(join(this.dir, "query.crt"), this.tls.cert);
    writeFileSync(join(this.dir, "query.key"), this.tls.key);
    this.startIndexer();
    const first = await this.startQuery();
    this.query = first.process;
    this.baseUrl = first.baseUrl;
    return this;
  }

  /**
   * Starts a query service on a port of its own, with the hub's certificate and admin token, and
   * waits until it is ready; several serve the same hub side by side.
   */
  async startQuery(name = "query"): Promise<{ process: ServiceProcess; baseUrl: string }> {
    const port = await freePort();
    const baseUrl = `https://127.0.0.1:${port}`;
    const service = spawnService(
      name,
      "@atoll/query",
      {
        ...this.env(),
        PORT: String(port),
        ATOLL_ADMIN_TOKEN: this.adminToken,
        TLS_CERT_FILE: join(this.dir, "query.crt"),
        TLS_KEY_FILE: join(this.dir, "query.key"),
      },
      this.dir,
    );
    this.queries.push(service);
    await until(
      () =>
        this.fetch("/readyz", { baseUrl }).then(
          (r) => r.ok,
          () => false,
        ),
      `the ${name} service to be ready`,
    );
    return { process: service, baseUrl };
  }

  /** Starts an agent for a sim; extra env selects the mode (pull credentials, rules, ...). */
  startAgent(sim: KubeSim, extra: Record<string, string> = {}, name = `agent-${sim.name}`): ServiceProcess {
    const kubeconfig = join(this.dir, `${sim.name}.kubeconfig`);
    writeFileSync(kubeconfig, sim.kubeconfig());
    const hubKey = this.options.env?.ATOLL_SECRET_KEY;
    const env = {
      ...this.env(),
      // The key a registration bundle gives this cluster's agent, for the Secrets placed on it.
      ...(hubKey ? { ATOLL_WORK_KEY: workKey(parseSecretKey(hubKey), sim.name).toString("base64") } : {}),
      ATOLL_CLUSTER: sim.name,
      KUBECONFIG: kubeconfig,
      HEARTBEAT_INTERVAL_MS: "1000",
      ...extra,
    };
    const agent = spawnService(name, "@atoll/agent", env, this.dir);
    this.agents.set(name, agent);
    return agent;
  }

  /** Registers each sim as a pull-mode cluster; with agents, starts its agent and waits until it is indexed. */
  async registerPull(sims: KubeSim[], options: { agents: boolean } = { agents: true }): Promise<void> {
    for (const sim of sims) {
      const { status, body } = await this.send("POST", "/api/v1/clusters", { mode: "pull", name: sim.name });
      if (status !== 201) throw new Error(`registering ${sim.name}: ${status} ${JSON.stringify(body)}`);
      if (options.agents) this.startAgent(sim);
    }
    if (options.agents) for (const sim of sims) await this.waitIndexed(sim, 60_000);
  }

  /** An agent in hub mode: syncs every registered push cluster. */
  startHubAgent(): ServiceProcess {
    const env = { ...this.env(), ATOLL_MODE: "hub", HEARTBEAT_INTERVAL_MS: "1000" };
    const agent = spawnService("agent-hub", "@atoll/agent", env, this.dir);
    this.agents.set("agent-hub", agent);
    return agent;
  }

  async send(
    method: string,
    path: string,
    body?: unknown,
    token: string = this.adminToken,
    // biome-ignore lint/suspicious/noExplicitAny: tests read API answers as loose JSON
  ): Promise<{ status: number; body: any }> {
    const init =
      body === undefined
        ? { method, token }
        : { method, token, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const response = await this.fetch(path, init);
    return { status: response.status, body: await response.json() };
  }

  /**
   * A request to the query service over its TLS, as the admin unless another token (or null) is
   * given; to the first query service unless another one's baseUrl is.
   */
  fetch(
    path: string,
    init: RequestInit & { token?: string | null; baseUrl?: string } = {},
  ): Promise<Response> {
    const { token = this.adminToken, headers, baseUrl = this.baseUrl, ...rest } = init;
    return fetch(`${baseUrl}${path}`, {
      ...rest,
      headers: {
        ...(headers as Record<string, string>),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      dispatcher: this.dispatcher,
    } as never) as unknown as Promise<Response>;
  }

  /** Runs the atoll CLI against this hub, as the admin unless another token is given; its stdout. */
  async cli(args: string[], token: string = this.adminToken): Promise<string> {
    const hubFlags = ["--hub", this.baseUrl, "--token", token, "--ca-file", join(this.dir, "query.crt")];
    return (await run(process.execPath, [serviceEntry("@atoll/cli"), ...args, ...hubFlags])).stdout;
  }

  /** A kubeconfig for kubectl against a path of the query service, trusting its certificate. */
  kubeconfig(path: string, token: string = this.adminToken): string {
    return tokenKubeconfig({ name: "atoll", server: `${this.baseUrl}${path}`, caCert: this.tls.cert, token });
  }

  /** Starts the scheduler; extra env tunes it (cluster grace period, check interval). */
  startScheduler(extra: Record<string, string> = {}): ServiceProcess {
    this.scheduler = spawnService("scheduler", "@atoll/scheduler", { ...this.env(), ...extra }, this.dir);
    return this.scheduler;
  }

  /** Starts another indexer process; several share the clusters between them. */
  startIndexer(name = "indexer"): ServiceProcess {
    this.indexer = spawnService(name, "@atoll/indexer", this.env(), this.dir);
    this.indexers.push(this.indexer);
    return this.indexer;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read API answers as loose JSON
  async get(path: string): Promise<any> {
    const response = await this.fetch(path);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  /**
   * The last warnings and errors each service logged (per file, so one noisy service does not hide
   * the others), for a failure's message: CI removes the hub's directory with the run.
   */
  problemsLogged(linesPerFile = 12): string {
    const logged: string[] = [];
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith(".log")))
      logged.push(
        ...readFileSync(join(this.dir, file), "utf8")
          .split("\n")
          .filter((line) => /"level":(40|50|60)/.test(line))
          .slice(-linesPerFile)
          .map((line) => `${file}: ${line.slice(0, 400)}`),
      );
    return logged.join("\n");
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
    await Promise.all([...this.indexers, ...this.queries, this.scheduler].map((service) => service?.stop()));
    if (this.bus) {
      await this.bus.removeTopology();
      await this.bus.close();
    }
    await this.dropDatabase();
    // The services' logs live here; ATOLL_KEEP_TEST_DIRS=1 keeps them for a look after a failure.
    if (!process.env.ATOLL_KEEP_TEST_DIRS) rmSync(this.dir, { recursive: true, force: true });
  }
}
