import { execFile } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { nkeyFromSeed } from "@atoll/bus";
import { findExecutable, serviceEntry } from "@atoll/devkit";
import { selfSignedTls } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";

const run = promisify(execFile);

describe("atoll cluster", () => {
  const hub = new TestHub();
  const atoll = (...args: string[]) => hub.cli(["cluster", ...args]);

  beforeAll(() => hub.start());
  afterAll(() => hub.stop());

  it("prints health score history", async () => {
    const history = await hub.cli([
      "score",
      "history",
      "--cluster",
      "edge-7",
      "--namespace",
      "default",
      "--kind",
      "Pod",
      "--name",
      "never-failed",
      "--since",
      "2h",
      "--step",
      "1h",
    ]);
    const lines = history.trim().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+CLUSTER\s+NAMESPACE\s+NAME\s+SCORE$/);
    // An object with no findings scores 100 at every point of the range.
    expect(lines.slice(1).every((l) => /\sedge-7\s+default\s+never-failed\s+100$/.test(l))).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(3);
  });

  it("answers mistakes in its own words, never with a stack trace", async () => {
    const fails = async (...args: string[]) => {
      const failure = await run(process.execPath, [serviceEntry("@atoll/cli"), ...args]).then(
        () => undefined,
        (error: { stderr: string; code: number }) => error,
      );
      expect(failure, `atoll ${args.join(" ")} should fail`).toBeDefined();
      expect(failure!.stderr).not.toMatch(/^\s+at /m);
      return failure!.stderr.trim();
    };
    // The hub's certificate is self-signed: without its CA the CLI says which flag to use.
    expect(await fails("cluster", "list", "--hub", hub.baseUrl, "--token", hub.adminToken)).toMatch(
      /does not trust .*--ca-file or ATOLL_CA_FILE/,
    );
    expect(await fails("cluster", "list", "--hub", hub.baseUrl, "--ca-file", "/nowhere/ca.crt")).toMatch(
      /^error: cannot read the CA file \/nowhere\/ca\.crt \(ENOENT\)/,
    );
    expect(await fails("search", "x", "--colour", "red")).toBe(
      "error: atoll search has no flag --colour; see: atoll help search",
    );
    expect(await fails("search", "x", "--hub")).toMatch(/^error: the flag --hub needs a value/);
    // A value that starts with "-" reads as a flag; the answer says how to write it.
    expect(await fails("search", "x", "--token", "-abc")).toMatch(
      /^error: the flag --token needs a value \(one that starts with "-" is written --token=<value>\)/,
    );
    expect(await fails("search", "x", "--hub", "https://127.0.0.1:1", "--token=-abc")).not.toMatch(
      /needs a value/,
    );
    expect(await fails("apply", "-f", "/nowhere/app.yaml", "--hub", hub.baseUrl)).toMatch(
      /^error: .*\/nowhere\/app\.yaml.*(no such file|ENOENT)/,
    );
    const { stdout } = await run(process.execPath, [serviceEntry("@atoll/cli"), "--version"]);
    expect(stdout.trim()).toBe(
      `atoll ${JSON.parse(readFileSync(join(serviceEntry("@atoll/cli"), "../../package.json"), "utf8")).version}`,
    );
  });

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
      "ClusterRole",
      "ClusterRoleBinding",
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
    const gateway = async () =>
      (await hub.get("/api/v1/clusters")).items.find((c: { name: string }) => c.name === "edge-7");
    expect(await gateway()).toMatchObject({ gatewayReadOnly: false, gatewayImpersonate: true });
    await atoll("update", "edge-7", "--read-only", "true", "--impersonate", "false");
    expect(await gateway()).toMatchObject({ gatewayReadOnly: true, gatewayImpersonate: false });
    await expect(atoll("update", "edge-7", "--read-only", "maybe")).rejects.toThrow(
      /--read-only takes true or false/,
    );
  });

  it("makes the hub's NATS identity and renders a NATS config that nats-server accepts", async () => {
    const seedFile = join(hub.dir, "hub.nk");
    const publicKey = (await atoll("hub-nkey", "--out", seedFile)).trim();
    expect(publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(statSync(seedFile).mode & 0o777).toBe(0o600);
    expect(nkeyFromSeed(new TextEncoder().encode(readFileSync(seedFile, "utf8").trim())).getPublicKey()).toBe(
      publicKey,
    );
    const out = join(hub.dir, "nats.conf");
    // nats-server -t loads the TLS files, so they must exist.
    const tls = await selfSignedTls();
    const tlsFlags = ["--tls-cert", join(hub.dir, "nats.crt"), "--tls-key", join(hub.dir, "nats.key")];
    tlsFlags.push("--tls-ca", join(hub.dir, "nats.crt"), "--listen", "127.0.0.1");
    writeFileSync(join(hub.dir, "nats.crt"), tls.cert);
    writeFileSync(join(hub.dir, "nats.key"), tls.key);
    const refused = await atoll("nats-config", "--hub-nkey", publicKey).catch(
      (e: { stderr: string }) => e.stderr,
    );
    expect(refused).toMatch(/--listen must name the address NATS binds/);
    await atoll(
      "nats-config",
      "--hub-nkey",
      publicKey,
      "--port",
      "4333",
      "--store-dir",
      join(hub.dir, "js"),
      "--out",
      out,
      ...tlsFlags,
      "--max-file",
      "2G",
    );
    const check = await run(findExecutable("nats-server")!, ["-c", out, "-t"]);
    expect(`${check.stdout}${check.stderr}`).toMatch(/is valid/);
    expect(readFileSync(out, "utf8")).toContain(publicKey);
    expect(readFileSync(out, "utf8")).toContain("# cluster edge-7");
    expect(readFileSync(out, "utf8")).toMatch(/^host: "127\.0\.0\.1"$/m);
    expect(readFileSync(out, "utf8")).toMatch(/^tls \{$/m);
    expect(readFileSync(out, "utf8")).toMatch(/max_file: 2G/);

    // Before the hub runs: the hub's identity alone, no registry read.
    const first = join(hub.dir, "bootstrap.conf");
    await run(process.execPath, [
      serviceEntry("@atoll/cli"),
      "cluster",
      "nats-config",
      "--hub-nkey",
      publicKey,
      "--bootstrap",
      "--out",
      first,
      ...tlsFlags,
    ]);
    const bootstrap = readFileSync(first, "utf8");
    expect(bootstrap).toContain(publicKey);
    expect(bootstrap).not.toContain("# cluster ");
    const checkFirst = await run(findExecutable("nats-server")!, ["-c", first, "-t"]);
    expect(`${checkFirst.stdout}${checkFirst.stderr}`).toMatch(/is valid/);
  });

  it("deletes, and explains errors", async () => {
    expect(await atoll("delete", "edge-7")).toMatch(/deleted edge-7; purged 0 objects/);
    const failure = await atoll("delete", "edge-7").catch((error: { stderr: string }) => error.stderr);
    expect(failure).toMatch(/404 no cluster "edge-7"/);
    const usage = await atoll("register", "x").catch((error: { stderr: string }) => error.stderr);
    expect(usage).toMatch(/exactly one of --pull or --kubeconfig/);
  });

  it("makes roles and tokens; a viewer token reads but cannot change the registry", async () => {
    const cli = (token: string, ...args: string[]) => hub.cli(args, token);
    expect(
      await cli(hub.adminToken, "role", "put", "edge-reader", "--verbs", "read", "--clusters", "edge-9"),
    ).toMatch(/role edge-reader/);
    const created = await cli(hub.adminToken, "token", "create", "--role", "viewer", "--name", "ci");
    const token = /^token: (\S+)$/m.exec(created)?.[1];
    expect(token).toMatch(/^atoll_[0-9a-f]{12}_/);
    expect(await cli(token!, "cluster", "list")).toMatch(/^NAME/);
    const refused = await cli(token!, "cluster", "delete", "anything").catch(
      (e: { stderr: string }) => e.stderr,
    );
    expect(refused).toMatch(/403 .*may not admin/);
    const listed = await cli(hub.adminToken, "token", "list");
    expect(listed).toMatch(/ci\s+viewer/);
    // The secret may itself hold "_", so it is everything after the id.
    const id = token!.split("_")[1]!;
    expect(listed).not.toContain(token!.slice(`atoll_${id}_`.length));
    expect(await cli(hub.adminToken, "token", "revoke", id)).toMatch(`revoked ${id}`);
  });
});
