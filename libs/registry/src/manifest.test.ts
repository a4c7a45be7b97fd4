import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { agentManifest, agentNatsUrlFrom, PLACEHOLDER_NATS_URL } from "./manifest.js";

describe("the pull-mode agent manifest", () => {
  it.each([
    ["nats://127.0.0.1:4222", PLACEHOLDER_NATS_URL],
    ["nats://localhost:4222", PLACEHOLDER_NATS_URL],
    ["nats://[::1]:4222", PLACEHOLDER_NATS_URL],
    ["not a url", PLACEHOLDER_NATS_URL],
    ["nats://nats.hub.example:4222", "nats://nats.hub.example:4222"],
    ["tls://10.0.0.5:4222", "tls://10.0.0.5:4222"],
  ])("dials %s as %s when no agent URL is set", (hub, dialled) => {
    expect(agentNatsUrlFrom(hub)).toBe(dialled);
  });

  const envOf = (manifest: string) =>
    Object.fromEntries(
      YAML.parseAllDocuments(manifest)
        .map((d) => d.toJS())
        .find((d) => d.kind === "Deployment")
        .spec.template.spec.containers[0].env.map(
          (e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom],
        ),
    );
  const base = { cluster: "edge-1", natsUrl: "nats://hub:4222", credentials: "SUA...", image: "atoll/agent" };

  it("carries the hub's bus prefix and work key when it has them, and nothing it does not", () => {
    expect(envOf(agentManifest({ ...base, busPrefix: "tenant-a", workKey: "a2V5" }))).toMatchObject({
      NATS_URL: "nats://hub:4222",
      ATOLL_BUS_PREFIX: "tenant-a",
      ATOLL_WORK_KEY: { secretKeyRef: { name: "atoll-agent-nats", key: "work.key" } },
    });
    const plain = envOf(agentManifest(base));
    expect(plain.ATOLL_BUS_PREFIX).toBeUndefined();
    expect(plain.ATOLL_WORK_KEY).toBeUndefined();
  });
});
