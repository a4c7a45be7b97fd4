import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EventType } from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forgedEvent, publishForged } from "../support/forge.js";
import { TestHub } from "../support/hub.js";

/**
 * With OPENSEARCH_URL set, the indexer mirrors every batch into OpenSearch before acking. A
 * stand-in server answers like OpenSearch with external versions: a write lands only when its
 * version is at least the document's, or its deletion's (kept here for good, where OpenSearch
 * keeps it for index.gc_deletes, 60 s by default).
 */
describe("the indexer mirrors into OpenSearch when OPENSEARCH_URL is set", () => {
  const held = new Map<string, { version: number; resourceVersion?: number }>();
  /** Document id → the resourceVersion of the object it holds. */
  const documents = () => {
    const live = new Map<string, number>();
    for (const [id, doc] of held) if (doc.resourceVersion !== undefined) live.set(id, doc.resourceVersion);
    return live;
  };
  const requests: string[] = [];
  let server: Server;
  let hub: TestHub;
  const sim = new KubeSim({ name: "os-sim", token: "os" });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push(`${req.method} ${req.url?.split("?")[0]}`);
        const items: unknown[] = [];
        if (req.url === "/_bulk") {
          const lines = Buffer.concat(chunks)
            .toString("utf8")
            .trimEnd()
            .split("\n")
            .map((l) => JSON.parse(l));
          for (let i = 0; i < lines.length; i++) {
            const [action, meta] = Object.entries(
              lines[i] as Record<string, { _id: string; version?: number }>,
            )[0]!;
            const document = action === "index" ? (lines[++i] as { resourceVersion: number }) : undefined;
            const version = meta.version ?? 0;
            if ((held.get(meta._id)?.version ?? 0) > version) {
              items.push({ [action]: { status: 409, error: { type: "version_conflict_engine_exception" } } });
              continue;
            }
            held.set(meta._id, {
              version,
              ...(document ? { resourceVersion: document.resourceVersion } : {}),
            });
            items.push({ [action]: { status: 200 } });
          }
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(req.url === "/_bulk" ? { errors: false, items } : { acknowledged: true }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await sim.start();
    generateCluster(sim, { seed: 51, namespaces: ["default", "prod"], deploymentsPerNamespace: 3 });
    hub = new TestHub({ env: { OPENSEARCH_URL: url, OPENSEARCH_INDEX_PREFIX: "e2e-" } });
    await hub.start();
    hub.startAgent(sim);
    await hub.waitIndexed(sim);
  });
  afterAll(async () => {
    await hub.stop();
    await sim.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("installs the template and holds every object at its latest version", async () => {
    expect(requests.slice(0, 2)).toEqual([
      "PUT /_index_template/e2e-atoll-resources",
      "PUT /e2e-atoll-resources",
    ]);
    const configMaps = sim.store.findType("", "v1", "configmaps")!;
    const changed = sim.store.update(configMaps, {
      ...sim.store.list(configMaps)[0]!.object,
      data: { changed: "yes" },
      metadata: { ...sim.store.list(configMaps)[0]!.object.metadata, resourceVersion: undefined },
    });
    const expected = new Map<string, number>();
    for (const type of sim.store.types()) {
      for (const { object } of sim.store.entries(type))
        expected.set(`os-sim/${object.metadata.uid}`, Number(object.metadata.resourceVersion));
    }
    await until(
      () => documents().get(`os-sim/${changed.metadata.uid}`) === Number(changed.metadata.resourceVersion),
      "the change in OpenSearch",
    );
    expect(documents()).toEqual(expected);
  });

  it("follows Postgres when the next full list undoes a forged deletion from far in the future", async () => {
    const configMaps = sim.store.findType("", "v1", "configmaps")!;
    const [victim] = sim.store.list(configMaps);
    const id = `os-sim/${victim!.object.metadata.uid}`;
    await publishForged(
      hub.bus,
      sim.name,
      [
        forgedEvent({
          type: EventType.DELETED,
          kind: "ConfigMap",
          resource: "configmaps",
          namespace: victim!.object.metadata.namespace,
          name: victim!.object.metadata.name,
          uid: victim!.object.metadata.uid,
          resourceVersion: 10n ** 12n,
        }),
      ],
      "forged-future-deletion",
    );
    await until(() => !documents().has(id), "the forged deletion in OpenSearch");

    // The next full list brings the object back, in Postgres and in the mirror alike.
    await hub.agents.get(`agent-${sim.name}`)?.stop();
    hub.startAgent(sim);
    await until(
      () => documents().get(id) === Number(victim!.object.metadata.resourceVersion),
      "the relisted object back in OpenSearch",
    );
    const expected = new Map<string, number>();
    for (const type of sim.store.types()) {
      for (const { object } of sim.store.entries(type))
        expected.set(`os-sim/${object.metadata.uid}`, Number(object.metadata.resourceVersion));
    }
    expect(documents()).toEqual(expected);
  });
});
