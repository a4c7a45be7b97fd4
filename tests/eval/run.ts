import { report, runLanguageEval, startEvalHub } from "./language.js";

// npm run eval:language — the plain-language score by language and class, and every miss.
const fleet = await startEvalHub();
try {
  console.log(report(await runLanguageEval(fleet.hub, fleet.sims)));
} finally {
  await fleet.stop();
}
