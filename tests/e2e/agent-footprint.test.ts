import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { serviceEntry } from "@atoll/devkit";
import { afterAll, describe, expect, it } from "vitest";
import { moduleRecorder } from "../support/loaded.js";

const run = promisify(execFile);

/**
 * What an agent in a member cluster loads: it runs with the cluster's credentials and memory, so
 * it carries the agent's code and nothing of the hub's (the index, search, grants, AI, insight).
 * The agent is started without a cluster name, so it stops right after its modules are loaded; a
 * loader hook records every file it loaded.
 */
describe("the agent's footprint", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-footprint-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads only the agent's libraries, and of the gateway only the responder", async () => {
    const { register, loaded } = moduleRecorder(dir);
    const failure = await run(process.execPath, ["--import", register, serviceEntry("@atoll/agent")], {
      env: { ...process.env, ATOLL_MODE: "pull", ATOLL_CLUSTER: "", NATS_URL: "nats://127.0.0.1:1" },
    }).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    expect(failure).toMatch(/ATOLL_CLUSTER/);
    const files = loaded();
    const libraries = new Set(
      files
        .map((url) => /\/(?:libs|services)\/([\w-]+)\/dist\//.exec(url)?.[1])
        .filter((lib) => lib !== undefined),
    );
    expect([...libraries].sort()).toEqual([
      "agent",
      "bus",
      "config",
      "contracts",
      "gateway",
      "kube",
      "log",
      "sync",
    ]);
    // The responder and the header rules it shares with the hub side, not the hub side itself.
    const gateway = files
      .filter((url) => url.includes("/libs/gateway/dist/"))
      .map((url) => url.split("/").at(-1));
    expect(gateway.sort()).toEqual(["bus-transport.js", "headers.js"]);
  });
});
