import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EvalResult, percent, report, runLanguageEval, scores, startEvalHub } from "./language.js";

/**
 * The plain-language evaluation in CI: every question of tests/eval/questions.*.yaml through the
 * hub's reader, against its SQL answer (itself checked against the real kubectl where kubectl can
 * say it). Each language must read at least 90 % of its questions exactly.
 */
describe("plain-language evaluation", () => {
  let fleet: Awaited<ReturnType<typeof startEvalHub>>;
  let results: EvalResult[];

  beforeAll(async () => {
    fleet = await startEvalHub();
    results = await runLanguageEval(fleet.hub, fleet.sims);
    console.log(report(results));
  }, 300_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  it("has at least 200 questions, half of them Chinese", () => {
    expect(results.length).toBeGreaterThanOrEqual(200);
    expect(results.filter((r) => r.question.language === "zh").length).toBeGreaterThanOrEqual(
      results.length / 2 - 10,
    );
  });

  it("answers every question's own SQL, non-empty and as kubectl lists it", () => {
    expect(results.filter((r) => r.setError).map((r) => `${r.question.q}: ${r.setError}`)).toEqual([]);
  });

  it("reads at least 90 % of the questions of each language exactly", () => {
    const table = scores(results);
    for (const language of ["en", "zh"]) expect(percent(table.get(language)!)).toBeGreaterThanOrEqual(90);
  });

  it("reports the words it did not use and the SQL it read, for every question", () => {
    for (const result of results) {
      expect(result.readAs).toMatch(/^SELECT /);
      expect(Array.isArray(result.ignored)).toBe(true);
    }
  });
});
