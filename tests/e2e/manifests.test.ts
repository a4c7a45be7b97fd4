import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { natsIdentities, renderServerConfig } from "@atoll/bus";
import { serviceEntry } from "@atoll/devkit";
import { AUDIT_RULES, audit } from "@atoll/insight";
import { AGENT_APPLY_RULES, AGENT_GATEWAY_RULES, AGENT_READ_RULES, agentManifest } from "@atoll/registry";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { KUBECTL } from "../support/kubectl.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: manifests are loose JSON
type Any = any;

/** The kubernetes-models module holding a group version's classes. */
const moduleOf = (apiVersion: string) => `kubernetes-models/${apiVersion}`;

async function render(base: string): Promise<Any[]> {
  const { stdout } = await run(KUBECTL, ["kustomize", `${ROOT}infra/k8s/${base}`]);
  return YAML.parseAllDocuments(stdout).map((d) => d.toJSON());
}

/**
 * kustomize wraps long base64 Secret values over lines; the API server's decoder skips the line
 * breaks, the JSON Schema's byte format does not, so they are joined before validating.
 */
function unwrapSecret(object: Any): Any {
  if (object.kind !== "Secret" || !object.data) return object;
  return {
    ...object,
    data: Object.fromEntries(Object.entries(object.data).map(([k, v]) => [k, String(v).replace(/\s+/g, "")])),
  };
}

describe("deployment manifests", () => {
  it.each(["hub", "agent"])(
    "%s: kubectl kustomize renders objects that validate against the Kubernetes schemas",
    async (base) => {
      const objects = await render(base);
      expect(objects.length).toBeGreaterThan(5);
      for (const object of objects) {
        const module = (await import(moduleOf(object.apiVersion))) as Record<
          string,
          new (
            o: Any,
          ) => { validate(): void }
        >;
        const Model = module[object.kind];
        expect(Model, `${object.apiVersion} ${object.kind} has a schema`).toBeDefined();
        expect(
          () => new Model!(unwrapSecret(object)).validate(),
          `${object.kind} ${object.metadata?.name}`,
        ).not.toThrow();
      }
      const kinds = objects.map((o) => o.kind);
      expect(kinds).toEqual(
        expect.arrayContaining(["Namespace", "ServiceAccount", "Deployment", "ConfigMap", "Secret"]),
      );
    },
  );

  it.each(["hub", "agent"])(
    "%s: passes the project's own audit (atoll check --fail-on high) with no high or critical finding",
    async (base) => {
      const dir = mkdtempSync(join(tmpdir(), "atoll-manifests-"));
      try {
        const file = join(dir, `${base}.yaml`);
        writeFileSync(file, (await run(KUBECTL, ["kustomize", `${ROOT}infra/k8s/${base}`])).stdout);
        const checked = await run(process.execPath, [
          serviceEntry("@atoll/cli"),
          "check",
          "-f",
          file,
          "-o",
          "json",
        ]).catch((error: { code: number; stdout: string }) => error);
        const report = JSON.parse(checked.stdout);
        expect(report.objects).toBe((await render(base)).length);
        expect(
          report.findings
            .filter((f: Any) => f.severity === "high" || f.severity === "critical")
            .map((f: Any) => `${f.kind}/${f.name}${f.container ? `/${f.container}` : ""}: ${f.rule}`),
        ).toEqual([]);
        expect("code" in checked ? checked.code : 0).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("gives every Deployment probes, requests, limits and a non-root, read-only security context", async () => {
    for (const object of [...(await render("hub")), ...(await render("agent"))].filter(
      (o) => o.kind === "Deployment",
    )) {
      const pod = object.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot, object.metadata.name).toBe(true);
      for (const container of pod.containers) {
        expect(container.readinessProbe && container.livenessProbe, object.metadata.name).toBeTruthy();
        expect(container.resources.requests && container.resources.limits, object.metadata.name).toBeTruthy();
        expect(container.securityContext.readOnlyRootFilesystem, object.metadata.name).toBe(true);
      }
    }
  });

  it("gives the agent the same rights whether it comes from infra/k8s/agent or atoll cluster add --pull", async () => {
    const rendered = await render("agent");
    const rulesOf = (name: string) =>
      rendered.find((o) => o.kind === "ClusterRole" && o.metadata.name === name)?.rules;
    expect(rulesOf("atoll-agent-read")).toEqual(AGENT_READ_RULES);
    expect(rulesOf("atoll-agent-apply")).toEqual(AGENT_APPLY_RULES);
    expect(rulesOf("atoll-agent-gateway")).toEqual(AGENT_GATEWAY_RULES);
    const printed = YAML.parseAllDocuments(
      agentManifest({ cluster: "c", natsUrl: "nats://hub:4222", credentials: "SU...", image: "agent:1" }),
    ).map((d) => d.toJSON());
    expect(
      audit(printed, AUDIT_RULES).filter(
        (f) => !f.passed && (f.severity === "high" || f.severity === "critical"),
      ),
    ).toEqual([]);
  });

  it("runs the hub's bus as three NATS servers and keeps every stream on all three", async () => {
    const objects = await render("hub");
    const nats = objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "nats");
    expect(nats.spec.replicas).toBe(3);
    const config = objects.find(
      (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("atoll-hub-config"),
    );
    expect(config.data.ATOLL_BUS_REPLICAS).toBe("3");
    // The example server configuration is what nats-config renders today, not a stale copy.
    const example = readFileSync(`${ROOT}infra/k8s/hub/nats-server.conf.example`, "utf8");
    const hubKey = /nkey: "(U[A-Z0-9]+)"/.exec(example)?.[1];
    expect(hubKey).toBeDefined();
    expect(example).toBe(
      renderServerConfig({
        port: 4222,
        host: "0.0.0.0",
        storeDir: "/data/jetstream",
        monitorPort: 8222,
        tls: {
          certFile: "/etc/nats/tls/tls.crt",
          keyFile: "/etc/nats/tls/tls.key",
          caFile: "/etc/nats/tls/ca.crt",
        },
        identities: natsIdentities(hubKey!, [], ""),
        cluster: {
          serverName: "$POD_NAME",
          name: "atoll",
          listen: "0.0.0.0:6222",
          routes: [0, 1, 2].map((i) => `nats-route://nats-${i}.nats-cluster.atoll-system.svc:6222`),
        },
      }),
    );
  });
});
