import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, startNatsCluster, startNatsServer, until } from "./index.js";

const running = async (pid: number | undefined) => {
  try {
    process.kill(pid ?? 0, 0);
    return true;
  } catch {
    return false;
  }
};

describe("starting private NATS servers", () => {
  it("fails at once, saying why, when the server dies before it listens, and leaves nothing running", async () => {
    const port = await freePort();
    // The port is taken: nats-server refuses to start on it.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    try {
      // A server that started anyway is stopped, not left running after a failed test.
      const outcome = await startNatsServer({
        port,
        config: `listen: 127.0.0.1:${port}\njetstream { store_dir: "/tmp/atoll-unused" }`,
      }).then(
        async (server) => {
          await server.stop();
          return "started";
        },
        (error: Error) => error.message,
      );
      // Its death is noticed, with its reason, rather than waited out until the start times out.
      expect(outcome).toMatch(
        /nats-server exited \(1\) before listening on port \d+: .*address already in use/s,
      );
    } finally {
      squatter.close();
    }
  });

  it("starts a cluster whose servers answer, and stops them all", async () => {
    const cluster = await startNatsCluster(3);
    const pids = cluster.servers.map((server) => server.process.pid);
    expect(await Promise.all(pids.map(running))).toEqual([true, true, true]);
    await cluster.stop();
    expect(await Promise.all(pids.map(running))).toEqual([false, false, false]);
  });
});

describe("servers a test starts", () => {
  it("do not outlive the process that started them, even one that never stopped them", async () => {
    // A child node process starts a server and exits without stopping it, as a timed-out test's
    // process does. It runs the build, which turbo makes before any test.
    const script = `
      const { startNatsServer } = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
      const server = await startNatsServer();
      console.log(server.process.pid);
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const pid = Number(run.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await until(async () => !(await running(pid)), `nats-server ${pid} to be gone`, 10_000, 100);
  }, 30_000);
});
