import { randomBytes } from "node:crypto";
import { OpenSearchWriter } from "@atoll/opensearch";
import {
  applyIndexOps,
  exampleRow,
  type IndexOp,
  type ObjectRow,
  openDatabase,
  settledOps,
  temporaryDatabase,
} from "@atoll/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** What every index back end must do with the same operations, replays and reorderings included. */
interface Backend {
  apply(ops: IndexOp[]): Promise<void>;
  versions(): Promise<Map<string, string>>;
}

const row = (uid: string, rv: number, syncId = "s1", extra: Partial<ObjectRow> = {}): ObjectRow => ({
  ...exampleRow("Pod", "prod", uid, { metadata: { uid, labels: { app: "web" } } }),
  uid,
  resourceVersion: BigInt(rv),
  syncId,
  ...extra,
});

const up = (uid: string, rv: number, syncId?: string): IndexOp => ({
  op: "upsert",
  row: row(uid, rv, syncId),
});
const del = (uid: string, rv: number, syncId = "s1"): IndexOp => ({
  op: "delete",
  cluster: "c1",
  uid,
  resourceVersion: BigInt(rv),
  syncId,
});
const sweep = (syncId: string): IndexOp => ({
  op: "sweep",
  cluster: "c1",
  apiGroup: "",
  resource: "pods",
  syncId,
});

const CASES: { name: string; batches: IndexOp[][]; expected: Record<string, number> }[] = [
  {
    name: "a newer version wins over an older replay",
    batches: [[up("a", 5)], [up("a", 3)]],
    expected: { a: 5 },
  },
  {
    name: "a deletion is not undone by a replayed older write",
    batches: [[up("a", 5)], [del("a", 6)], [up("a", 5)]],
    expected: {},
  },
  {
    name: "a redelivered older message inside a batch does not win",
    batches: [[up("a", 10), up("a", 12), up("a", 10)]],
    expected: { a: 12 },
  },
  {
    name: "a sweep removes rows the newer list did not see",
    batches: [
      [up("old", 1, "s1"), up("kept", 2, "s1")],
      [up("kept", 2, "s2"), sweep("s2")],
    ],
    expected: { kept: 2 },
  },
  {
    name: "a replayed old sweep leaves newer rows alone",
    batches: [[up("new", 5, "s3")], [sweep("s2")]],
    expected: { new: 5 },
  },
  {
    name: "the next full list undoes a forged deletion from far in the future",
    batches: [[up("a", 5)], [del("a", 10 ** 12)], [up("a", 5, "s2"), sweep("s2")]],
    expected: { a: 5 },
  },
];

function contract(
  name: string,
  makeBackend: () => Promise<{ backend: Backend; close(): Promise<void> }>,
): void {
  describe(`index contract: ${name}`, () => {
    for (const testCase of CASES) {
      it(testCase.name, async () => {
        const { backend, close } = await makeBackend();
        try {
          for (const batch of testCase.batches) await backend.apply(batch);
          const expected = new Map(
            Object.entries(testCase.expected).map(([uid, rv]) => [`c1/${uid}`, String(rv)]),
          );
          expect(await backend.versions()).toEqual(expected);
        } finally {
          await close();
        }
      });
    }
  });
}

let database: { url: string; drop(): Promise<void> };
beforeAll(async () => {
  database = await temporaryDatabase("contract");
});
afterAll(() => database.drop());

/** A fresh index in the test database. */
async function emptyIndex() {
  const handle = await openDatabase(database.url, { migrate: false, maxConnections: 1 });
  await handle.sql`truncate resources, resource_changes, resource_tombstones`;
  return handle;
}

contract("Postgres", async () => {
  const handle = await emptyIndex();
  return {
    backend: {
      apply: async (ops) => {
        await applyIndexOps(handle.sql, ops);
      },
      versions: async () =>
        new Map(
          (await handle.sql`select cluster, uid, resource_version::text as rv from resources`).map((r) => [
            `${r.cluster}/${r.uid}`,
            r.rv as string,
          ]),
        ),
    },
    close: () => handle.close(),
  };
});

// Runs wherever a real OpenSearch is reachable; this machine has none, so the golden tests in
// libs/opensearch cover the exact requests instead.
const openSearchUrl = process.env.OPENSEARCH_URL;
if (openSearchUrl) {
  // As the indexer feeds it: each batch goes to Postgres, then what Postgres settled to the mirror.
  contract("OpenSearch", async () => {
    const handle = await emptyIndex();
    const writer = new OpenSearchWriter({
      url: openSearchUrl,
      prefix: `contract-${randomBytes(4).toString("hex")}-`,
    });
    await writer.ensureIndex();
    return {
      backend: {
        apply: async (ops) => {
          await applyIndexOps(handle.sql, ops);
          await writer.apply(await settledOps(handle.sql, ops));
        },
        versions: () => writer.versions(),
      },
      close: async () => {
        await fetch(`${openSearchUrl.replace(/\/$/, "")}/${writer.index}`, { method: "DELETE" });
        await handle.close();
      },
    };
  });
}
