import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Logger } from "@atoll/log";
import { sql as drizzleSql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema/index.js";

export type Database = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };

const MIGRATIONS = fileURLToPath(new URL("../drizzle", import.meta.url));
const MIGRATION_LOCK = 7_245_118_001;

export interface DatabaseHandle {
  db: Database;
  sql: postgres.Sql;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger?: Logger;
  maxConnections?: number;
  /** Applies pending migrations first (under an advisory lock, so concurrent starts are safe). */
  migrate?: boolean;
  /** Sees every statement's text and parameters before it is sent (tests prove parameterisation with it). */
  onQuery?: (text: string, parameters: unknown[]) => void;
  /** Settings for every connection, e.g. statement_timeout for a pool that serves user queries. */
  sessionSettings?: Record<string, string | number>;
}

/**
 * Session settings for a pool that answers user queries: every statement is cancelled after
 * 10 s, and plans are made for the actual values, since filters on kind, label or namespace are
 * so skewed that one generic plan fits them badly.
 */
export const SEARCH_SESSION = { statement_timeout: 10_000 } as const;

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<DatabaseHandle> {
  if (options.migrate ?? true) await migrateDatabase(url);
  const sql = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice: () => {},
    connection: {
      application_name: "atoll",
      // Statements are prepared once per connection and, after five runs, Postgres may keep a
      // generic plan made for the tables as they were then. Made while a fleet's tables were
      // still empty, such a plan hashes the whole issues table for every finding resolved (326 ms
      // a call at 400,000 findings, against 0.7 ms); it held the indexer of a 1,000-cluster
      // fleet on Postgres's CPU. Each run is planned for the tables and values it meets.
      plan_cache_mode: "force_custom_plan",
      // Set once per connection rather than per statement: a per-query SET costs a round trip.
      ...options.sessionSettings,
    },
    ...(options.onQuery
      ? {
          debug: (_connection: number, text: string, parameters: unknown[]) =>
            options.onQuery?.(text, parameters),
        }
      : {}),
  });
  return { db: drizzle(sql, { schema }), sql, close: () => sql.end({ timeout: 5 }) };
}

export async function migrateDatabase(url: string): Promise<void> {
  const single = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await single`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(drizzle(single), { migrationsFolder: MIGRATIONS });
    await single`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await single.end({ timeout: 5 });
  }
}

function maintenanceUrl(url: string): { adminUrl: string; database: string } {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_]+$/.test(database)) {
    throw new Error(`database name "${database}" in DATABASE_URL must use letters, digits and '_' only`);
  }
  parsed.pathname = "/postgres";
  return { adminUrl: parsed.toString(), database };
}

/** Creates the database named in url if it does not exist (the demo and tests own theirs). */
export async function ensureDatabase(url: string): Promise<void> {
  const { adminUrl, database } = maintenanceUrl(url);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const existing = await admin`select 1 from pg_database where datname = ${database}`;
    if (existing.length === 0) await admin.unsafe(`create database "${database}"`);
  } catch (error) {
    // Two processes racing to create it is fine: the loser sees duplicate_database.
    if ((error as { code?: string }).code !== "42P04") throw error;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const { adminUrl, database } = maintenanceUrl(url);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${database}" with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Waits until Postgres answers; used by readiness checks. */
export async function ping(sql: postgres.Sql): Promise<void> {
  await sql`select 1`;
}

/**
 * A fresh, migrated database for one test suite or benchmark; drop() removes it. The server comes
 * from DATABASE_URL (default: the local one).
 */
export async function temporaryDatabase(
  purpose: string,
  serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(serverUrl);
  base.pathname = `/atoll_${purpose.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const url = base.toString();
  await ensureDatabase(url);
  await migrateDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}

/**
 * Whether Postgres was out of reach or gave up on the statement (connection lost, server shutting
 * down, too many connections, a deadlock or serialization failure): worth trying again later,
 * unlike a refusal of the data itself.
 */
export function databaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string") return false;
  // 55000: the database is not accepting connections (an operator closed it, or it is shutting down).
  if (error instanceof postgres.PostgresError) return /^(08|53|57|40|55)/.test(code);
  return /^(ECONN|ETIMEDOUT|EPIPE|EHOSTUNREACH|CONNECTION_|CONNECT_TIMEOUT)/.test(code);
}

/** Whether Postgres answers a trivial statement within a few seconds. */
export async function databaseAnswers(sql: postgres.Sql, waitMs = 3_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), waitMs);
  });
  try {
    return await Promise.race([
      ping(sql).then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * JSON text that jsonb can hold. jsonb refuses the NUL character, which Kubernetes strings may
 * contain, so each NUL becomes U+FFFD (an escaped backslash followed by "u0000" is left alone).
 */
export function storableJson(text: string): string {
  return text.includes("\\u0000") ? text.replace(NUL_ESCAPE, "$1\\ufffd") : text;
}

/** to_char's pattern for the API's times: ISO 8601 in UTC with milliseconds, as JavaScript writes them. */
export const ISO_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"';

/** A timestamp column as ISO 8601 text in UTC; null stays null. */
export const isoTime = (sql: postgres.Sql, column: string) =>
  sql`to_char(${sql(column)} at time zone 'UTC', ${ISO_TIME_FORMAT})`;

/** The same, in a drizzle query: a schema column, or an expression such as a joined alias's. */
export const isoText = (column: PgColumn | SQL) =>
  drizzleSql<string | null>`to_char(${column} at time zone 'UTC', ${ISO_TIME_FORMAT})`;
