import { type ChildProcess, spawn } from "node:child_process";
import {
  chownSync,
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** Polls until predicate holds; the error names what was awaited. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what = "condition",
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The built entry point of a service package, e.g. "@atoll/indexer". */
export function serviceEntry(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), "dist", "main.js");
}

export interface ServiceProcess {
  readonly name: string;
  readonly process: ChildProcess;
  /** File that receives the service's stdout and stderr. */
  readonly log: string;
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/** How to kill each child still running, so none outlives this process. */
const running = new Map<ChildProcess, () => unknown>();
let reaping = false;

/**
 * Kills the child when this process exits, if it is still running then: a test that times out
 * never reaches its own clean-up, and a server it started would otherwise run on, holding ports.
 */
function killedOnExit(child: ChildProcess, kill: () => unknown = () => child.kill("SIGKILL")): void {
  if (!reaping)
    process.once("exit", () => {
      for (const killChild of running.values()) killChild();
    });
  reaping = true;
  running.set(child, kill);
  child.once("exit", () => running.delete(child));
}

export async function stopChild(
  child: ChildProcess,
  graceMs = 10_000,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts a built service as a child process with its logs in logDir/<name>.log. */
export function spawnService(
  name: string,
  pkg: string,
  env: Record<string, string | undefined>,
  logDir: string,
): ServiceProcess {
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `${name}.log`);
  const out = createWriteStream(log, { flags: "a" });
  const child = spawn(process.execPath, [serviceEntry(pkg)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  killedOnExit(child);
  return {
    name,
    process: child,
    log,
    stop: (graceMs) => stopChild(child, graceMs),
    kill: (signal = "SIGKILL") => child.kill(signal),
  };
}

/** Finds an executable on PATH or in the sbin folders Debian installs servers into. */
export function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/local/bin",
  ];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

export function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * True once a NATS server answers on the port: it greets every client with an INFO line. A port that
 * merely accepts connections may belong to another process.
 */
function natsAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("data", (chunk) => done(chunk.toString("latin1").startsWith("INFO ")));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

export interface NatsServerProcess {
  url: string;
  port: number;
  process: ChildProcess;
  /** Rewrites the configuration and signals the server to reload it, as an operator would. */
  reload(config: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a private nats-server with JetStream: on a free port with a throw-away store, or from a
 * rendered configuration (which must set port and store_dir).
 */
export async function startNatsServer(
  options: { config?: string; port?: number; storeDir?: string } = {},
): Promise<NatsServerProcess> {
  const binary = findExecutable("nats-server");
  if (!binary) throw new Error("nats-server is not installed; on Debian: apt-get install nats-server");
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "atoll-nats-"));
  const file = join(dir, "nats.conf");
  let args: string[];
  if (options.config !== undefined) {
    writeFileSync(file, options.config);
    args = ["-c", file];
  } else {
    args = [
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-js",
      "-sd",
      options.storeDir ?? join(dir, "store"),
      "-l",
      join(dir, "nats.log"),
    ];
  }
  // What it prints before its log file opens (a port taken, a bad configuration) says why it died.
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  killedOnExit(child);
  let printed = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    printed = (printed + chunk.toString()).slice(-2_000);
  });
  try {
    await until(
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `nats-server exited (${child.exitCode ?? child.signalCode}) before listening on port ${port}: ${printed.trim() || "it printed nothing"}`,
          );
        return natsAnswers(port);
      },
      `nats-server on port ${port}`,
      // A loaded machine (a CI run building and testing at once) can take seconds to start it.
      30_000,
      50,
    );
  } catch (error) {
    await stopChild(child, 1_000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    reload: async (config) => {
      writeFileSync(file, config);
      child.kill("SIGHUP");
      // The server applies a reload within milliseconds; give it a moment before clients rely on it.
      await new Promise((resolve) => setTimeout(resolve, 300));
    },
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface NatsClusterProcess {
  /** Every server's client URL, comma-separated, as NATS_URL takes a cluster. */
  url: string;
  servers: NatsServerProcess[];
  /** The server names (n1, n2, …), in the order of `servers`: JetStream reports leaders by them. */
  names: string[];
  /** SIGKILLs one server, as a crashed machine would; the others carry on. */
  kill(index: number): void;
  /** Starts a killed server again on its ports and store, as a restarted machine would; it catches up from its peers. */
  restart(index: number): Promise<void>;
  /** The last warnings and errors each server logged, for a failed test's message. */
  problemsLogged(linesPerServer?: number): string;
  stop(): Promise<void>;
}

/**
 * Starts a NATS cluster of `size` servers with JetStream on loopback ports, each routed to the
 * others, for tests of replicated streams and of a server lost mid-flight.
 */
export async function startNatsCluster(size = 3): Promise<NatsClusterProcess> {
  // A port found free may be taken by another suite before its server binds it: start afresh.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(size);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function startNatsClusterOnce(size: number): Promise<NatsClusterProcess> {
  const clientPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const dir = mkdtempSync(join(tmpdir(), "atoll-nats-cluster-"));
  const names = clientPorts.map((_, i) => `n${i + 1}`);
  const configOf = (i: number) =>
    [
      `server_name: ${names[i]}`,
      `listen: 127.0.0.1:${clientPorts[i]}`,
      // Kept beside the store, so a failed test can show what the servers saw.
      `log_file: "${join(dir, `${names[i]}.log`)}"`,
      `jetstream { store_dir: "${join(dir, names[i]!)}", max_memory_store: 64MB, max_file_store: 1GB }`,
      `cluster { name: atoll-test, listen: 127.0.0.1:${routePorts[i]}, routes: [${routePorts
        .filter((_, j) => j !== i)
        .map((route) => `nats-route://127.0.0.1:${route}`)
        .join(", ")}] }`,
    ].join("\n");
  const started = await Promise.allSettled(
    clientPorts.map((port, i) => startNatsServer({ port, config: configOf(i) })),
  );
  const servers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    // Never leave the servers that did start running behind a failed start.
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  return {
    url: servers.map((server) => server.url).join(","),
    servers,
    names,
    kill: (index) => servers[index]?.process.kill("SIGKILL"),
    restart: async (index) => {
      await servers[index]?.stop();
      servers[index] = await startNatsServer({ port: clientPorts[index]!, config: configOf(index) });
    },
    problemsLogged: (linesPerServer = 15) =>
      names
        .flatMap((name) => {
          const file = join(dir, `${name}.log`);
          if (!existsSync(file)) return [];
          return readFileSync(file, "utf8")
            .split("\n")
            .filter((line) => /\[(WRN|ERR|FTL)\]/.test(line))
            .slice(-linesPerServer)
            .map((line) => `${name}.log: ${line.slice(0, 300)}`);
        })
        .join("\n"),
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PostgresServerProcess {
  /** A URL of the server's postgres database, for the superuser postgres (trust auth). */
  url: string;
  port: number;
  /** Kills the postmaster and every backend at once, as a crash of its machine would. */
  crash(): void;
  /** Starts the server again on the same data directory and port; it recovers from its WAL. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL Debian installs, or the one on PATH. */
function postgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const newest = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a))[0];
    if (newest) return join(root, newest, "bin");
  }
  const initdb = findExecutable("initdb");
  return initdb ? dirname(initdb) : undefined;
}

/**
 * Runs a private PostgreSQL server in a temporary directory, for tests that must kill their
 * database outright (the shared server is never stopped). As root it runs as the postgres user,
 * since PostgreSQL refuses to run as root.
 */
export async function startPostgresServer(): Promise<PostgresServerProcess> {
  const bin = postgresBinaries();
  if (!bin)
    throw new Error("PostgreSQL's server binaries are not installed; on Debian: apt-get install postgresql");
  const dir = mkdtempSync(join(tmpdir(), "atoll-pg-"));
  const data = join(dir, "data");
  const owner: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const entry = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => line.split(":"))
      .find((fields) => fields[0] === "postgres");
    if (!entry) throw new Error("running as root, and there is no postgres user to run PostgreSQL as");
    owner.uid = Number(entry[2]);
    owner.gid = Number(entry[3]);
    chownSync(dir, owner.uid, owner.gid);
  }
  await new Promise<void>((resolve, reject) => {
    const init = spawn(
      join(bin, "initdb"),
      ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
      { ...owner, stdio: "ignore" },
    );
    init.once("error", reject);
    init.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}`))));
  });
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const log = openSync(join(dir, "postgres.log"), "a");
    // A process group of its own, so a crash takes the backends down with the postmaster.
    child = spawn(
      join(bin, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "max_connections=200",
      ],
      { ...owner, stdio: ["ignore", log, log], detached: true },
    );
    const postmaster = child;
    // The whole group: backends outlive a postmaster killed alone.
    killedOnExit(postmaster, () => {
      if (postmaster.pid) process.kill(-postmaster.pid, "SIGKILL");
    });
    closeSync(log);
    await until(() => portAnswers(port), `PostgreSQL on port ${port}`, 30_000, 50);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    crash: () => {
      if (child?.pid) process.kill(-child.pid, "SIGKILL");
    },
    restart: start,
    stop: async () => {
      // SIGINT is PostgreSQL's fast shutdown: sessions are ended, nothing is left to recover.
      if (child) await stopChild(child, 10_000, "SIGINT");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
