import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ObjectRow, SettledOp } from "@atoll/store";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OpenSearchError } from "./client.js";
import { OpenSearchWriter } from "./writer.js";

const golden = (name: string) => new URL(`../golden/${name}`, import.meta.url);

/** Compares with a committed golden file; UPDATE_GOLDEN=1 rewrites it after a deliberate change. */
function expectGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden(name), actual);
  expect(actual).toBe(readFileSync(golden(name), "utf8"));
}

function row(uid: string, rv: number, extra: Partial<ObjectRow> = {}): ObjectRow {
  return {
    cluster: "prod-1",
    uid,
    apiGroup: "apps",
    apiVersion: "v1",
    kind: "Deployment",
    resource: "deployments",
    namespace: "payments",
    name: `web-${uid}`,
    resourceVersion: BigInt(rv),
    syncId: "000001795300000-abcd1234",
    objectJson: JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: `web-${uid}`,
        namespace: "payments",
        uid,
        labels: { app: "web", "app.kubernetes.io/part-of": "shop" },
        annotations: { note: "x" },
        creationTimestamp: "2026-01-02T03:04:05Z",
        ownerReferences: [
          { apiVersion: "example.com/v1", kind: "App", name: "shop", uid: `owner-of-${uid}` },
        ],
      },
      spec: { replicas: 3 },
      status: {
        readyReplicas: 2,
        conditions: [
          { type: "Available", status: "True" },
          { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
        ],
      },
    }),
    ...extra,
  };
}

interface Captured {
  method: string;
  path: string;
  contentType: string;
  body: string;
}

/**
 * Stands in for OpenSearch: records every request, checks the protocol shape a real server would
 * insist on, and answers as OpenSearch does. Answers can be overridden per path.
 */
describe("OpenSearch writer against a capturing server", () => {
  let server: Server;
  let url = "";
  const captured: Captured[] = [];
  const violations: string[] = [];
  let bulkAnswer: (body: string) => unknown = () => ({ errors: false, items: [] });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const entry = {
          method: req.method ?? "",
          path: req.url ?? "",
          contentType: req.headers["content-type"] ?? "",
          body,
        };
        captured.push(entry);
        let answer: unknown = { acknowledged: true };
        if (entry.path === "/_bulk") {
          if (entry.contentType !== "application/x-ndjson")
            violations.push(`bulk content-type ${entry.contentType}`);
          if (!body.endsWith("\n")) violations.push("bulk body must end with a newline");
          const lines = body
            .trimEnd()
            .split("\n")
            .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
          for (let i = 0; i < lines.length; i++) {
            const [action, meta] = Object.entries(lines[i]!)[0]!;
            if (!meta?._index || !meta._id) violations.push(`line ${i}: action without _index/_id`);
            if (action === "index") i += 1;
            else if (action !== "delete") violations.push(`line ${i}: unexpected action ${action}`);
          }
          answer = bulkAnswer(body);
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    captured.length = 0;
    violations.length = 0;
    bulkAnswer = () => ({ errors: false, items: [] });
  });

  const writer = () => new OpenSearchWriter({ url, prefix: "golden-" });
  const now = new Date("2026-11-21T00:00:00Z");

  it("installs the exact template, creates the index, and brings an older index's mapping up to date", async () => {
    await writer().ensureIndex();
    expect(captured.map((c) => `${c.method} ${c.path}`)).toEqual([
      "PUT /_index_template/golden-atoll-resources",
      "PUT /golden-atoll-resources",
      "PUT /golden-atoll-resources/_mapping",
    ]);
    const template = JSON.parse(captured[0]!.body);
    expectGolden("template.json", `${JSON.stringify(template, null, 2)}\n`);
    expect(JSON.parse(captured[2]!.body)).toEqual({ properties: template.template.mappings.properties });
  });

  it("sends bulk writes and deletes versioned by Postgres's revisions, and sweeps after the writes before them", async () => {
    const revision = 2n ** 52n;
    const ops: SettledOp[] = [
      { op: "upsert", row: row("u1", 101), revision: revision + 1n },
      {
        op: "upsert",
        row: row("u2", 102, {
          namespace: "",
          apiGroup: "",
          kind: "Namespace",
          resource: "namespaces",
          name: "payments",
        }),
        revision: revision + 2n,
      },
      { op: "delete", cluster: "prod-1", uid: "u0", revision: revision + 3n },
      {
        op: "sweep",
        cluster: "prod-1",
        apiGroup: "apps",
        resource: "deployments",
        namespace: "payments",
        syncId: "000001795300000-abcd1234",
      },
      { op: "delete", cluster: "prod-1", uid: "u9", revision: revision + 4n },
    ];
    await writer().apply(ops, now);
    expect(violations).toEqual([]);
    expect(captured.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /_bulk",
      "POST /golden-atoll-resources/_delete_by_query?conflicts=proceed&refresh=false",
      "POST /_bulk",
    ]);
    expectGolden("bulk.ndjson", captured[0]!.body);
    expectGolden("sweep.json", `${JSON.stringify(JSON.parse(captured[1]!.body), null, 2)}\n`);
    expect(captured[2]!.body).toBe(
      `{"delete":{"_index":"golden-atoll-resources","_id":"prod-1/u9","version":${revision + 4n},"version_type":"external_gte"}}\n`,
    );
  });

  it("treats version conflicts (a stale replay) and deletes of missing documents as done", async () => {
    bulkAnswer = () => ({
      errors: true,
      items: [
        {
          index: {
            status: 409,
            error: { type: "version_conflict_engine_exception", reason: "current version [7] is higher" },
          },
        },
        { delete: { status: 404 } },
      ],
    });
    await expect(
      writer().apply(
        [
          { op: "upsert", row: row("u1", 5), revision: 7n },
          { op: "delete", cluster: "prod-1", uid: "u2", revision: 9n },
        ],
        now,
      ),
    ).resolves.toBeUndefined();
  });

  it("fails the batch on any other item error, so the indexer retries it without acking", async () => {
    bulkAnswer = () => ({
      errors: true,
      items: [{ index: { status: 400, error: { type: "mapper_parsing_exception", reason: "bad field" } } }],
    });
    const upsert: SettledOp = { op: "upsert", row: row("u1", 5), revision: 7n };
    await expect(writer().apply([upsert], now)).rejects.toThrow(OpenSearchError);
    await expect(writer().apply([upsert], now)).rejects.toThrow(/mapper_parsing_exception: bad field/);
  });
});
