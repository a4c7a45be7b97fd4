import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { type Principal, parseGrants } from "@atoll/access";
import { Bus } from "@atoll/bus";
import { KubeClient, tokenKubeconfig } from "@atoll/kube";
import { selfSignedTls, type TlsMaterial } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusProxyClient, ProxyResponder } from "./bus-transport.js";
import { Gateway, type GatewayAuditEntry } from "./gateway.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const TIMEOUT_MS = 300;

/** An API server that takes requests and never answers them. */
function silentServer(tls: TlsMaterial): Promise<https.Server> {
  const server = https.createServer(tls, () => undefined);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const admin: Principal = { name: "admin", role: "admin", grants: parseGrants([{ verbs: ["*"] }]) };

describe("gateway timeouts", () => {
  const prefix = `gwt${randomBytes(4).toString("hex")}`;
  let upstream: https.Server;
  let front: http.Server;
  let hub: Bus;
  let agentBus: Bus;
  let responder: ProxyResponder;
  const audit: GatewayAuditEntry[] = [];

  beforeAll(async () => {
    const tls = await selfSignedTls();
    upstream = await silentServer(tls);
    const client = KubeClient.fromKubeconfig(
      tokenKubeconfig({
        name: "slow",
        server: `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        caCert: tls.cert,
      }),
    );
    hub = await Bus.connect({ url: NATS_URL, name: "gwt-hub", prefix, logger: silentLogger() });
    agentBus = await Bus.connect({ url: NATS_URL, name: "gwt-agent", prefix, logger: silentLogger() });
    responder = new ProxyResponder({
      bus: agentBus,
      cluster: "slow-pull",
      client,
      logger: silentLogger(),
    }).start();
    await agentBus.nc.flush();
    const gateway = new Gateway({
      findCluster: async (name) =>
        name === "slow-push"
          ? { name, client, impersonate: true, readOnly: false }
          : name === "slow-pull"
            ? { name, impersonate: true, readOnly: false }
            : undefined,
      bus: new BusProxyClient(hub),
      audit: async (entry) => {
        audit.push(entry);
      },
      logger: silentLogger(),
      timeoutMs: TIMEOUT_MS,
    });
    front = http.createServer((req, res) => void gateway.handle(req, res, admin, "r"));
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await responder?.stop();
    await agentBus?.close();
    await hub?.close();
    front?.closeAllConnections();
    upstream?.closeAllConnections();
    front?.close();
    upstream?.close();
  });

  const request = (path: string, method = "GET") =>
    fetch(`http://127.0.0.1:${(front.address() as AddressInfo).port}${path}`, { method });

  it.each(["slow-push", "slow-pull"])(
    "%s: a slow answer becomes 504 with a clear message",
    async (cluster) => {
      const response = await request(`/proxy/clusters/${cluster}/api/v1/namespaces/default/pods`);
      expect(response.status).toBe(504);
      const status = (await response.json()) as { kind: string; reason: string; message: string };
      expect(status).toMatchObject({ kind: "Status", reason: "Timeout" });
      expect(status.message).toMatch(new RegExp(`cluster "${cluster}" did not answer within`));
    },
  );

  it.each(["slow-push", "slow-pull"])("%s: a watch is never cut off by the timeout", async (cluster) => {
    const abort = new AbortController();
    const outcome = fetch(
      `http://127.0.0.1:${(front.address() as AddressInfo).port}/proxy/clusters/${cluster}/api/v1/pods?watch=true`,
      { signal: abort.signal },
    ).then(
      (response) => `answered ${response.status}`,
      () => "still waiting",
    );
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 4));
    abort.abort();
    expect(await outcome).toBe("still waiting");
  });

  it("audits a timed-out write with the code the caller got", async () => {
    const response = await request(
      "/proxy/clusters/slow-push/api/v1/namespaces/default/configmaps/x",
      "DELETE",
    );
    expect(response.status).toBe(504);
    await response.text();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(audit.at(-1)).toMatchObject({ cluster: "slow-push", verb: "delete", code: 504, user: "admin" });
  });
});
