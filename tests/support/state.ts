import type { KubeSim } from "@atoll/kube-sim";
import type postgres from "postgres";

/** Every (cluster, uid) a sim holds, with its resourceVersion. */
export function simState(sims: KubeSim[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const sim of sims) {
    for (const type of sim.store.types()) {
      for (const { object } of sim.store.list(type))
        state.set(`${sim.name}/${object.metadata.uid}`, object.metadata.resourceVersion);
    }
  }
  return state;
}

export function differences(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [key, rv] of expected) {
    if (!actual.has(key)) problems.push(`missing ${key}@${rv}`);
    else if (actual.get(key) !== rv) problems.push(`stale ${key}: index ${actual.get(key)}, sim ${rv}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) problems.push(`extra ${key}`);
  return problems;
}

/** Every (cluster, uid) in the index, with its resourceVersion. */
export async function indexState(sql: postgres.Sql): Promise<Map<string, string>> {
  const rows = await sql`select cluster, uid, resource_version::text as rv from resources`;
  return new Map(rows.map((r) => [`${r.cluster}/${r.uid}`, r.rv as string]));
}

/**
 * The differences left once the index has had up to timeoutMs to match the sims as they are now:
 * empty when it converged, else the first few, for the test to show.
 */
export async function convergence(
  sql: postgres.Sql,
  sims: KubeSim[],
  timeoutMs: number,
  intervalMs = 250,
): Promise<string[]> {
  const expected = simState(sims);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = differences(expected, await indexState(sql).catch(() => new Map<string, string>()));
    if (problems.length === 0 || Date.now() > deadline) return problems.slice(0, 20);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
