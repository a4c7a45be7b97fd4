/**
 * npm run vectors -- <file.json> [...]: replays peer projects' test vectors through Atoll's own
 * code. A vector with a `check` is a Polaris audit fixture; any other is dispatched on its group
 * (its id without the last -part), and an unknown group fails. Prints one line per failure and `N passed, M failed`; exits non-zero on any failure.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type ClusterpediaReplay, clusterpediaReplay } from "./clusterpedia.js";
import { KARMADA } from "./karmada.js";
import { polarisHandler } from "./polaris.js";
import { groupOf, type Handler, runVectors } from "./runner.js";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: npm run vectors -- <vectors.json> [more.json ...]");
  process.exit(2);
}

// npm runs workspace scripts in the workspace; paths are as the caller typed them.
const base = process.env.INIT_CWD ?? process.cwd();
// Clusterpedia's vectors replay against Postgres; the database is made only when one is met.
let clusterpedia: ClusterpediaReplay | undefined;
// biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
const needsDatabase = (vectors: any[]) =>
  vectors.some((v) => v.check === undefined && !KARMADA[groupOf(String(v.id))]);
// biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
const handlerFor = (vector: any): Handler | undefined => {
  if (vector.check !== undefined) return polarisHandler;
  const group = groupOf(String(vector.id));
  return KARMADA[group] ?? clusterpedia?.handlers[group];
};

let passed = 0;
let failed = 0;
for (const file of files) {
  let vectors: unknown;
  try {
    vectors = JSON.parse(readFileSync(resolve(base, file), "utf8"));
  } catch (error) {
    console.error(`${file}: cannot read a vector file (${(error as Error).message})`);
    failed += 1;
    continue;
  }
  if (!Array.isArray(vectors)) {
    console.error(`${file}: a vector file holds a JSON array`);
    failed += 1;
    continue;
  }
  if (!clusterpedia && needsDatabase(vectors)) clusterpedia = await clusterpediaReplay();
  const result = await runVectors(vectors, handlerFor);
  for (const failure of result.failures) console.log(`FAIL ${failure}`);
  passed += result.passed;
  failed += result.failures.length;
}
await clusterpedia?.close();
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
