import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findExecutable, serviceEntry } from "@atoll/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";

const run = promisify(execFile);

describe("atoll cluster", () => {
  const hub = new TestHub();
  const atoll = async (...args: string[]) =>
    (await run(process.execPath, [serviceEntry("@atoll/cli"), "cluster", ...args, "--hub", hub.baseUrl]))
      .stdout;

  beforeAll(() => hub.start());
  afterAll(() => hub.stop());

  it("registers a pull cluster and prints a manifest kubectl can apply", async () => {
    const rules = join(hub.dir, "rules.yaml");
    writeFileSync(rules, "rules:\n  - { apiVersion: apps/v1, resource: deployments }\n");
    const manifest = await atoll(
      "register",
      "edge-7",
      "--pull",
      "--label",
      "site=store-7",
      "--region",
      "eu",
      "--rules",
      rules,
    );
    const kinds = YAML.parseAllDocuments(manifest).map((d) => d.toJSON().kind);
    expect(kinds).toEqual([
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Secret",
      "Deployment",
    ]);
  });

  it("updates and lists clusters", async () => {
    await atoll(
      "update",
      "edge-7",
      "--label",
      "site=store-8",
      "--taint",
      "flaky=yes:NoExecute",
      "--zone",
      "eu-1a",
    );
    const list = await atoll("list");
    expect(list.split("\n")[0]).toMatch(/^NAME\s+MODE\s+STATUS\s+VERSION\s+LOCATION\s+LABELS\s+OBJECTS$/);
    expect(list).toMatch(/edge-7\s+pull\s+Offline\s+-\s+eu\/eu-1a\s+site=store-8\s+0/);
  });

  it("renders a NATS config that nats-server accepts", async () => {
    const out = join(hub.dir, "nats.conf");
    await atoll(
      "nats-config",
      "--hub-nkey",
      "UDL7WFUAZVUKCRLGDI6AUG4QW22Q6RBMGGFJQRCE6R3QXXT42GAE53W3",
      "--port",
      "4333",
      "--store-dir",
      join(hub.dir, "js"),
      "--out",
      out,
    );
    const check = await run(findExecutable("nats-server")!, ["-c", out, "-t"]);
    expect(`${check.stdout}${check.stderr}`).toMatch(/is valid/);
  });

  it("deletes, and explains errors", async () => {
    expect(await atoll("delete", "edge-7")).toMatch(/deleted edge-7; purged 0 objects/);
    const failure = await atoll("delete", "edge-7").catch((error: { stderr: string }) => error.stderr);
    expect(failure).toMatch(/404 no cluster "edge-7"/);
    const usage = await atoll("register", "x").catch((error: { stderr: string }) => error.stderr);
    expect(usage).toMatch(/exactly one of --pull or --kubeconfig/);
  });
});
