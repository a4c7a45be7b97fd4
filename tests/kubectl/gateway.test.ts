import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import https from "node:https";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { KubeSim, type SimAccess } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";
import { kubectl, kubectlPortForward, kubectlStream } from "../support/kubectl.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are read as loose JSON
type Any = any;

/** Member-cluster RBAC for the sims: the "intern" role may read but never delete. */
const memberRbac = (access: SimAccess) =>
  !(access.groups.includes("atoll:role:intern") && access.verb === "delete");

const configMap = (name: string, value: string) =>
  YAML.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default" },
    data: { value },
  });

describe("the real kubectl through the gateway (/proxy/clusters/<name>), push and pull", () => {
  const hub = new TestHub({ env: { ATOLL_SECRET_KEY: randomBytes(32).toString("base64") } });
  /** What listens on the sims' pods: a real HTTP server, reached through port-forward. */
  const podServer = createServer((req, res) => {
    if (req.url === "/echo") req.pipe(res);
    else res.end(`pod port 8080 answered ${req.url}`);
  });
  const sim = (name: string) =>
    new KubeSim({
      name,
      token: `${name}-token`,
      authorize: memberRbac,
      portForward: async ({ port }) => {
        if (port !== 8080) throw new Error(`nothing listens on ${port}`);
        return connect((podServer.address() as AddressInfo).port, "127.0.0.1");
      },
    });
  const pushSim = sim("gw-push");
  const pullSim = sim("gw-pull");
  const sims = { push: pushSim, pull: pullSim };
  const tokens: Record<string, string> = {};
  const kubeconfigs: Record<string, string> = {};

  const kubeconfigFor = (cluster: string, who: string) => {
    const key = `${cluster}-${who}`;
    if (!kubeconfigs[key]) {
      kubeconfigs[key] = join(hub.dir, `${key}.kubeconfig`);
      writeFileSync(
        kubeconfigs[key],
        hub.kubeconfig(`/proxy/clusters/${cluster}`, tokens[who] ?? hub.adminToken),
      );
    }
    return kubeconfigs[key];
  };
  const configMaps = (sim: KubeSim) => sim.store.list(sim.store.findType("", "v1", "configmaps")!, "default");
  const hasConfigMap = (sim: KubeSim, name: string) =>
    configMaps(sim).some((c) => c.object.metadata.name === name);

  beforeAll(async () => {
    await Promise.all([pushSim.start(), pullSim.start()]);
    await new Promise<void>((resolve) => podServer.listen(0, "127.0.0.1", resolve));
    for (const sim of [pushSim, pullSim]) {
      sim.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
      sim.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", namespace: "default", labels: { app: "web" } },
        spec: { containers: [{ name: "app", image: "nginx" }] },
        status: { phase: "Running" },
      });
      sim.writeLog("default", "web", `hello from ${sim.name}`);
    }
    await hub.start();
    expect(
      (
        await hub.send("POST", "/api/v1/clusters", {
          mode: "push",
          name: "gw-push",
          kubeconfig: pushSim.kubeconfig(),
        })
      ).status,
    ).toBe(201);
    expect((await hub.send("POST", "/api/v1/clusters", { mode: "pull", name: "gw-pull" })).status).toBe(201);
    expect((await hub.send("POST", "/api/v1/clusters", { mode: "pull", name: "gw-offline" })).status).toBe(
      201,
    );
    hub.startAgent(pullSim, { ATOLL_MODE: "pull" });
    for (const [role, grants] of Object.entries({
      reader: [{ verbs: ["proxy-read"], clusters: ["gw-push", "gw-pull"] }],
      intern: [{ verbs: ["proxy-write"], clusters: ["gw-push", "gw-pull"] }],
      outsider: [{ verbs: ["read", "proxy-write"], clusters: ["elsewhere"] }],
      team: [{ verbs: ["proxy-write"], clusters: ["gw-push"], namespaces: ["default"] }],
    })) {
      expect((await hub.send("PUT", `/api/v1/roles/${role}`, { grants })).status).toBe(200);
      const created = await hub.send("POST", "/api/v1/tokens", { name: `${role}-token`, role });
      tokens[role] = created.body.token;
    }
    // The pull cluster answers once its agent is on the bus.
    await until(
      async () => (await hub.fetch("/proxy/clusters/gw-pull/api/v1/namespaces/default/pods")).status === 200,
      `the pull agent to answer the gateway (logs in ${hub.dir})`,
      60_000,
    );
  }, 120_000);
  afterAll(async () => {
    await hub.stop();
    await Promise.all([pushSim.stop(), pullSim.stop()]);
    podServer.closeAllConnections();
    podServer.close();
  });

  describe.each(["push", "pull"] as const)("%s mode", (mode) => {
    const sim = () => sims[mode];
    const cluster = `gw-${mode}`;

    it("get, with the caller's identity impersonated in the member cluster", async () => {
      const seen = sim().requests.length;
      const out = await kubectl(kubeconfigFor(cluster, "admin"), ["get", "pods", "-n", "default"]);
      expect(out).toMatch(/^NAME\s+READY\s+STATUS/);
      expect(out).toMatch(/\nweb\s+/);
      const requests = sim()
        .requests.slice(seen)
        .filter((r) => r.resource === "pods");
      expect(requests.length).toBeGreaterThan(0);
      for (const request of requests)
        expect(request).toMatchObject({
          user: "atoll:bootstrap-admin",
          groups: ["atoll:authenticated", "atoll:role:admin"],
          impersonated: true,
        });
    });

    it("kubectl auth whoami shows the Atoll user, and kubectl's own --as cannot override it", async () => {
      const reader = kubeconfigFor(cluster, "reader");
      const whoami = await kubectl(reader, ["auth", "whoami"]);
      expect(whoami).toMatch(/Username\s+atoll:reader-token/);
      expect(whoami).toMatch(/Groups\s+\[atoll:authenticated atoll:role:reader\]/);
      // A caller's own impersonation headers are dropped, so they cannot become someone else.
      expect(await kubectl(reader, ["auth", "whoami", "--as", "system:admin"])).toMatch(
        /Username\s+atoll:reader-token/,
      );
    });

    it("apply (client-side and server-side) and delete", async () => {
      const admin = kubeconfigFor(cluster, "admin");
      await kubectl(admin, ["apply", "-f", "-"], configMap(`client-${mode}`, "one"));
      expect(hasConfigMap(sim(), `client-${mode}`)).toBe(true);
      await kubectl(admin, ["apply", "--server-side", "-f", "-"], configMap(`server-${mode}`, "two"));
      const applied = configMaps(sim()).find((c) => c.object.metadata.name === `server-${mode}`);
      expect(applied?.object.data).toEqual({ value: "two" });
      await kubectl(admin, ["delete", "configmap", `client-${mode}`, "-n", "default"]);
      expect(hasConfigMap(sim(), `client-${mode}`)).toBe(false);
    });

    it("logs and logs -f", async () => {
      const admin = kubeconfigFor(cluster, "admin");
      expect(await kubectl(admin, ["logs", "web", "-n", "default"])).toBe(`hello from ${sim().name}\n`);
      const follow = kubectlStream(admin, ["logs", "-f", "web", "-n", "default"]);
      try {
        await until(() => follow.output().includes("hello from"), "the followed log to start");
        sim().writeLog("default", "web", `later in ${mode}`);
        await until(
          () => follow.output().includes(`later in ${mode}`),
          "the followed log to show a new line",
        );
      } finally {
        follow.stop();
      }
    });

    it("get -w sees a change made in the sim", async () => {
      const watch = kubectlStream(kubeconfigFor(cluster, "admin"), [
        "get",
        "configmaps",
        "-n",
        "default",
        "-w",
      ]);
      try {
        await until(() => watch.output().includes("NAME"), "the watch to list");
        sim().apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `watched-${mode}`, namespace: "default" },
          data: { a: "1" },
        });
        await until(() => watch.output().includes(`watched-${mode}`), "the watch to show the new ConfigMap");
      } finally {
        watch.stop();
      }
    });

    it("a read-only grant reads but cannot write, and the refusal is audited", async () => {
      const reader = kubeconfigFor(cluster, "reader");
      expect(await kubectl(reader, ["get", "pods", "-n", "default", "-o", "name"])).toBe("pod/web\n");
      await expect(kubectl(reader, ["apply", "-f", "-"], configMap(`reader-${mode}`, "x"))).rejects.toThrow(
        /Forbidden|forbidden/,
      );
      expect(hasConfigMap(sim(), `reader-${mode}`)).toBe(false);
      const audit = await hub.get(`/api/v1/gateway/audit?cluster=${cluster}&user=reader-token`);
      expect(audit.items.length).toBeGreaterThan(0);
      expect(audit.items.every((e: Any) => e.code === 403 && e.role === "reader")).toBe(true);
    });

    it("member-cluster RBAC applies on top of the hub's grants", async () => {
      const intern = kubeconfigFor(cluster, "intern");
      await kubectl(intern, ["apply", "-f", "-"], configMap(`intern-${mode}`, "x"));
      expect(hasConfigMap(sim(), `intern-${mode}`)).toBe(true);
      await expect(
        kubectl(intern, ["delete", "configmap", `intern-${mode}`, "-n", "default"]),
      ).rejects.toThrow(/User "atoll:intern-token" cannot delete/);
      expect(hasConfigMap(sim(), `intern-${mode}`)).toBe(true);
      // The entry is written as the response closes, a moment after kubectl has its answer.
      const audit = async () =>
        (await hub.get(`/api/v1/gateway/audit?cluster=${cluster}&user=intern-token&verb=delete`)).items;
      await until(async () => (await audit()).length > 0, "the refused delete to be audited");
      expect((await audit())[0]).toMatchObject({ code: 403, resource: "configmaps", name: `intern-${mode}` });
    });

    it("a user without the cluster cannot reach it at all", async () => {
      const seen = sim().requests.length;
      await expect(
        kubectl(kubeconfigFor(cluster, "outsider"), ["get", "pods", "-n", "default"]),
      ).rejects.toThrow(/NotFound|not found|could not find/i);
      expect(sim().requests.length).toBe(seen);
    });
  });

  describe.each([
    ["push", pushSim],
    ["pull", pullSim],
  ] as const)(
    "interactive connections, %s mode (pull: carried over the bus by the agent)",
    (mode, modeSim) => {
      const cluster = `gw-${mode}`;

      it("exec runs as the caller, and needs proxy-write", async () => {
        const admin = kubeconfigFor(cluster, "admin");
        expect(await kubectl(admin, ["exec", "web", "-n", "default", "--", "whoami"])).toBe(
          "atoll:bootstrap-admin\n",
        );
        expect(
          await kubectl(admin, ["exec", "web", "-n", "default", "--", "echo", "through", "the", "hub"]),
        ).toBe("through the hub\n");
        await expect(kubectl(admin, ["exec", "web", "-n", "default", "--", "missing"])).rejects.toThrow(
          /exit code 127/,
        );
        await expect(
          kubectl(kubeconfigFor(cluster, "reader"), ["exec", "web", "-n", "default", "--", "whoami"]),
        ).rejects.toThrow(/needs proxy-write/);
      });

      it.each([
        ["SPDY tunnelled in WebSocket", true],
        ["plain SPDY", false],
      ])("port-forward over %s reaches the pod as the caller", async (_, websockets) => {
        const seen = modeSim.requests.length;
        const forward = await kubectlPortForward(
          kubeconfigFor(cluster, "admin"),
          ["-n", "default", "pod/web", ":8080"],
          websockets,
        );
        try {
          for (const path of ["/first", "/second"]) {
            const response = await fetch(`http://127.0.0.1:${forward.port}${path}`);
            expect(await response.text()).toBe(`pod port 8080 answered ${path}`);
          }
          // Enough bytes to need many pieces and several rounds of credit in both directions.
          const large = randomBytes(2 * 1024 * 1024);
          const echoed = await fetch(`http://127.0.0.1:${forward.port}/echo`, {
            method: "POST",
            body: large,
          });
          expect(Buffer.from(await echoed.arrayBuffer()).equals(large)).toBe(true);
        } finally {
          forward.stop();
        }
        const forwarded = modeSim.requests.slice(seen).filter((r) => r.subresource === "portforward");
        expect(forwarded.length).toBeGreaterThan(0);
        expect(forwarded[0]).toMatchObject({ user: "atoll:bootstrap-admin", impersonated: true });
      });

      it("port-forward is refused to a reader, who lacks proxy-write", async () => {
        await expect(
          kubectlPortForward(kubeconfigFor(cluster, "reader"), ["-n", "default", "pod/web", ":8080"]),
        ).rejects.toThrow(/needs proxy-write/);
      });
    },
  );

  it("lets a caller limited to one namespace apply with validation and ask kubectl auth can-i", async () => {
    const team = kubeconfigFor("gw-push", "team");
    const manifest = join(hub.dir, "team-config.yaml");
    writeFileSync(
      manifest,
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: team-config, namespace: default }\ndata: { a: b }\n",
    );
    // Validation reads /openapi/v3 and discovery, which every caller who reaches the cluster may.
    expect(await kubectl(team, ["apply", "-f", manifest])).toMatch(
      /configmap\/team-config (created|configured)/,
    );
    const canI = (...args: string[]) =>
      kubectl(team, ["auth", "can-i", ...args]).then(
        (out) => out.trim(),
        (error: Error) => (/\bno\b/.test(error.message) ? "no" : error.message),
      );
    // Answered by the hub's grants, the authority the gateway enforces.
    expect(await canI("create", "configmaps", "-n", "default")).toBe("yes");
    expect(await canI("create", "configmaps", "-n", "kube-system")).toBe("no");
    expect(await canI("list", "pods", "-A")).toBe("no");
    const elsewhere = await kubectl(team, ["get", "pods", "-n", "kube-system"]).catch(
      (e: Error) => e.message,
    );
    expect(elsewhere).toMatch(/may not read namespace "kube-system"/);
  });

  it("atoll kubeconfig gives a context per cluster through the gateway, and one over the index", async () => {
    const out = join(hub.dir, "generated.kubeconfig");
    await hub.cli(["kubeconfig", "--out", out], tokens.reader!);
    const contexts = (await kubectl(out, ["config", "get-contexts", "-o", "name"])).trim().split("\n").sort();
    expect(contexts).toEqual(
      expect.arrayContaining([
        "atoll-gw-pull",
        "atoll-gw-push",
        "atoll-index",
        "atoll-index-gw-pull",
        "atoll-index-gw-push",
      ]),
    );
    expect(
      await kubectl(out, [
        "config",
        "view",
        "-o",
        "jsonpath={.clusters[?(@.name=='atoll-index-gw-push')].cluster.server}",
      ]),
    ).toBe(`${hub.baseUrl}/k8s/clusters/gw-push`);
    expect(
      await kubectl(out, ["--context", "atoll-gw-push", "get", "pods", "-n", "default", "-o", "name"]),
    ).toBe("pod/web\n");
    expect(
      await kubectl(out, ["--context", "atoll-gw-pull", "get", "pods", "-n", "default", "-o", "name"]),
    ).toBe("pod/web\n");
  });

  it("names audit records itself, whatever X-Request-Id a caller sends", async () => {
    const forged = "forged-audit-id";
    const response = await hub.fetch("/proxy/clusters/gw-push/api/v1/namespaces/default/configmaps", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": forged },
      body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "request-id-probe" } }),
    });
    expect(response.status).toBe(201);
    const entry = (await hub.get("/api/v1/gateway/audit?cluster=gw-push&verb=create&limit=1")).items[0];
    expect(entry).toMatchObject({ path: "/api/v1/namespaces/default/configmaps", code: 201 });
    expect(entry.requestId).not.toBe(forged);
    expect(entry.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("writes succeed or fail into the audit log with who, cluster, verb, path and code", async () => {
    const audit = await hub.get("/api/v1/gateway/audit?user=bootstrap-admin&cluster=gw-push&verb=delete");
    expect(audit.items).toContainEqual(
      expect.objectContaining({
        cluster: "gw-push",
        verb: "delete",
        method: "DELETE",
        code: 200,
        path: "/api/v1/namespaces/default/configmaps/client-push",
      }),
    );
    const printed = await hub.cli(["audit", "--cluster", "gw-push", "--verb", "delete"]);
    expect(printed.split("\n")[0]).toMatch(
      /^TIME\s+USER\s+CLUSTER\s+VERB\s+RESOURCE\s+NAMESPACE\s+NAME\s+CODE$/,
    );
    expect(printed).toMatch(/bootstrap-admin\s+gw-push\s+delete\s+configmaps\s+default\s+client-push\s+200/);
    const page = await hub.get("/api/v1/gateway/audit?limit=1");
    expect(page.items).toHaveLength(1);
    const next = await hub.get(`/api/v1/gateway/audit?limit=1&continue=${page.continue}`);
    expect(next.items[0].id).toBeLessThan(page.items[0].id);
  });

  it("an AI diagnosis reads the pod's recent logs through the gateway, within the caller's grants", async () => {
    const diagnose = "/api/v1/insight/ai/diagnose?cluster=gw-pull&namespace=default&kind=Pod&name=web";
    await until(
      async () => (await hub.fetch(diagnose, { method: "POST" })).status === 200,
      "the pod in the index",
    );
    pullSim.writeLog("default", "web", "panic: the database refused the connection");
    const asAdmin = await hub.send("POST", diagnose);
    expect(asAdmin.body.answer).toContain("panic: the database refused the connection");
    // A caller who reads the index but holds no proxy grant gets the diagnosis without the logs.
    await hub.send("PUT", "/api/v1/roles/index-only", { grants: [{ verbs: ["read"] }] });
    const token = (await hub.send("POST", "/api/v1/tokens", { name: "index-only-token", role: "index-only" }))
      .body.token;
    const response = await hub.fetch(diagnose, { method: "POST", token });
    expect(response.status).toBe(200);
    const withoutLogs = (await response.json()) as Any;
    expect(withoutLogs.answer).not.toContain("panic: the database refused the connection");
    expect(withoutLogs.answer.length).toBeGreaterThan(0);
  });

  it("answers bad requests and unreachable clusters with a Status that says why", async () => {
    const status = async (path: string, init: RequestInit = {}) => {
      const response = await hub.fetch(path, init);
      return { code: response.status, body: (await response.json()) as Any };
    };
    expect(await status("/proxy/clusters/nowhere/api/v1/pods")).toMatchObject({
      code: 404,
      body: { kind: "Status" },
    });
    const offline = await status("/proxy/clusters/gw-offline/api/v1/pods");
    expect(offline.code).toBe(503);
    expect(offline.body.message).toMatch(/no agent of cluster "gw-offline" is connected/);
    // kubectl would stop at discovery, so the exec upgrade itself goes out by hand.
    const offlineExec = await new Promise<{ code: number; text: string }>((resolve, reject) =>
      https
        .request(
          `${hub.baseUrl}/proxy/clusters/gw-offline/api/v1/namespaces/default/pods/web/exec?command=id`,
          {
            ca: hub.tls.cert,
            headers: {
              authorization: `Bearer ${hub.adminToken}`,
              connection: "Upgrade",
              upgrade: "websocket",
              "sec-websocket-version": "13",
              "sec-websocket-key": randomBytes(16).toString("base64"),
              "sec-websocket-protocol": "v5.channel.k8s.io",
            },
          },
        )
        .on("response", (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve({ code: response.statusCode ?? 0, text }));
        })
        .on("upgrade", () => reject(new Error("an offline cluster's exec was upgraded")))
        .on("error", reject)
        .end(),
    );
    expect(offlineExec.code).toBe(503);
    expect(JSON.parse(offlineExec.text).message).toMatch(/no agent of cluster "gw-offline" is connected/);
    // An exec is a write: refused, it is audited with the code the caller got.
    const execAudit = await hub.get("/api/v1/gateway/audit?cluster=gw-offline&resource=pods%2Fexec");
    expect(execAudit.items.map((e: Any) => [e.resource, e.code])).toContainEqual(["pods/exec", 503]);
    const seen = pushSim.requests.length;
    const slash = await status("/proxy/clusters/gw-push/api/v1/namespaces/a%2Fb/secrets");
    expect(slash).toMatchObject({ code: 400, body: { reason: "BadRequest" } });
    // fetch would resolve ".." itself, so this one goes out byte for byte.
    const dotDot = await new Promise<number>((resolve, reject) =>
      https
        .request(
          `${hub.baseUrl}/proxy/clusters/gw-push/api/v1/namespaces/default/../../../secrets`,
          {
            ca: hub.tls.cert,
            headers: { authorization: `Bearer ${hub.adminToken}` },
            path: "/proxy/clusters/gw-push/api/v1/namespaces/default/../../../secrets",
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        )
        .on("error", reject)
        .end(),
    );
    expect(dotDot).toBe(400);
    expect(pushSim.requests.length).toBe(seen);
    for (const cluster of ["gw-push", "gw-pull"]) {
      const huge = await status(`/proxy/clusters/${cluster}/api/v1/namespaces/default/configmaps`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ metadata: { name: "huge" }, data: { blob: "x".repeat(4 * 1024 * 1024) } }),
      });
      expect(huge.code).toBe(413);
      expect(huge.body.message).toMatch(/larger than the gateway's limit/);
    }
  });

  it("a cluster set read-only refuses writes even from an admin", async () => {
    expect((await hub.send("PATCH", "/api/v1/clusters/gw-push", { gatewayReadOnly: true })).status).toBe(200);
    await expect(
      kubectl(kubeconfigFor("gw-push", "admin"), ["apply", "-f", "-"], configMap("read-only", "x")),
    ).rejects.toThrow(/read-only through the gateway/);
    expect(hasConfigMap(pushSim, "read-only")).toBe(false);
    expect((await hub.send("PATCH", "/api/v1/clusters/gw-push", { gatewayReadOnly: false })).status).toBe(
      200,
    );
  });

  it("impersonation can be switched off per cluster", async () => {
    expect((await hub.send("PATCH", "/api/v1/clusters/gw-push", { gatewayImpersonate: false })).status).toBe(
      200,
    );
    const seen = pushSim.requests.length;
    await kubectl(kubeconfigFor("gw-push", "admin"), ["get", "pods", "-n", "default"]);
    const requests = pushSim.requests.slice(seen);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => !r.impersonated)).toBe(true);
    expect((await hub.send("PATCH", "/api/v1/clusters/gw-push", { gatewayImpersonate: true })).status).toBe(
      200,
    );
  });
});
