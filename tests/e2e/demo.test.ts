import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, serviceEntry, until } from "@atoll/devkit";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** `atoll demo` as a user runs it: its NATS server, its database, and how it stops. */
describe("the demo", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-demo-"));
  let demo: ChildProcess;
  let output = "";
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const demoDatabases = async () =>
    (await admin`select datname from pg_database where datname like 'atoll_demo_%'`).map(
      (r) => r.datname as string,
    );
  let before: string[] = [];

  beforeAll(async () => {
    before = await demoDatabases();
    const port = await freePort();
    demo = spawn(
      process.execPath,
      [
        serviceEntry("@atoll/cli"),
        "demo",
        "--clusters",
        "1",
        "--churn",
        "0",
        "--port",
        String(port),
        "--dir",
        dir,
      ],
      { env: { ...process.env, DATABASE_URL, LOG_LEVEL: "warn" } },
    );
    demo.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    demo.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    await until(
      () => output.includes("ready:"),
      `the demo to be ready (output so far: ${output})`,
      120_000,
      200,
    );
  }, 150_000);
  afterAll(async () => {
    if (demo.exitCode === null) demo.kill("SIGKILL");
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs NATS with an identity per cluster and for the hub, and refuses a client without credentials", async () => {
    const url = readFileSync(join(dir, "nats", "url"), "utf8");
    const anonymous = await connect({ servers: url, reconnect: false, timeout: 3000 }).then(
      async (nc) => {
        await nc.close();
        return "connected";
      },
      (error: Error) => error.message,
    );
    expect(anonymous).toMatch(/Authorization Violation/);
    const config = readFileSync(join(dir, "nats", "hub.creds"), "utf8");
    expect(config).toMatch(/^SU/);
    expect(readFileSync(join(dir, "nats", "sim-1.creds"), "utf8")).toMatch(/^SU/);
  });

  it("keeps to a database of its own and drops only that one when stopped", async () => {
    const made = (await demoDatabases()).filter((d) => !before.includes(d));
    expect(made).toHaveLength(1);
    demo.kill("SIGTERM");
    await until(() => demo.exitCode !== null, "the demo to stop", 60_000, 100);
    expect(output).toMatch(/stopped/);
    const after = await demoDatabases();
    expect(after).not.toContain(made[0]);
    // Databases of other demos running on this machine are untouched.
    expect(before.every((d) => after.includes(d))).toBe(true);
  }, 90_000);
});
