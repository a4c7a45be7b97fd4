import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  auditManifests,
  type InsightConfig,
  InsightConfigError,
  ManifestError,
  readInsightConfig,
  readManifest,
  reportSarif,
  reportText,
  SEVERITIES,
  type Severity,
} from "@atoll/insight";
import { manifestFiles } from "./files.js";
import { SetupError } from "./infra.js";

export const CHECK_USAGE = `atoll check -f FILE|DIR|- [-f ...] [flags]: audit manifests before they reach a cluster
  -f -                     read standard input: kubectl kustomize DIR | atoll check -f -
  -R, --recursive          read directories' subdirectories too
  --config FILE            rule configuration: disabled rules, severities, exemptions, custom rules
                           (default: ATOLL_INSIGHT_CONFIG)
  -o, --output FORMAT      text (default), json or sarif (SARIF 2.1.0, for code scanning)
  --fail-on SEVERITY       exit 3 when a finding is this severe or worse: info, low, medium,
                           high (default), critical, or none
  --min-score N            exit 4 when the manifests' health score (0-100) is below N

exit codes: 0 passed; 1 an unreadable file, a bad flag value or configuration; 2 an unknown
flag; 3 findings at or above --fail-on; 4 a score below --min-score`;

/** Exit codes, as Polaris's audit uses them, so CI steps can tell findings from a low score. */
export const CHECK_EXIT = { passed: 0, findings: 3, lowScore: 4 } as const;

const FORMATS = ["text", "json", "sarif"] as const;

function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  return String(manifest.version);
}

/** Audits the named manifests offline and prints the report; answers the exit code. */
export function runCheck(args: string[], print: (text: string) => void): number {
  const { values } = parseArgs({
    args,
    options: {
      filename: { type: "string", short: "f", multiple: true },
      recursive: { type: "boolean", short: "R" },
      config: { type: "string" },
      output: { type: "string", short: "o", default: "text" },
      "fail-on": { type: "string", default: "high" },
      "min-score": { type: "string" },
    },
  });
  if (!values.filename?.length) throw new SetupError("check needs -f FILE or -f DIR");
  const format = values.output as (typeof FORMATS)[number];
  if (!FORMATS.includes(format))
    throw new SetupError(`-o ${values.output}: the formats are ${FORMATS.join(", ")}`);
  const failOn = values["fail-on"];
  if (failOn !== "none" && !SEVERITIES.includes(failOn as Severity))
    throw new SetupError(`--fail-on ${failOn}: use one of ${SEVERITIES.join(", ")}, or none`);
  const minScore = values["min-score"] === undefined ? undefined : Number(values["min-score"]);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 100))
    throw new SetupError(`--min-score ${values["min-score"]}: give a number from 0 to 100`);

  const configPath = values.config ?? process.env.ATOLL_INSIGHT_CONFIG;
  let config: InsightConfig = {};
  let manifests: ReturnType<typeof readManifest>;
  try {
    if (configPath) config = readInsightConfig(configPath);
    // "-f -" reads standard input, as for: kubectl kustomize overlays/prod | atoll check -f -
    manifests = values.filename.flatMap((path) =>
      path === "-"
        ? readManifest(readFileSync(0, "utf8"), "stdin")
        : manifestFiles(path, values.recursive).flatMap((file) =>
            readManifest(readFileSync(file, "utf8"), file),
          ),
    );
  } catch (error) {
    if (error instanceof ManifestError || error instanceof InsightConfigError)
      throw new SetupError(error.message);
    throw error;
  }
  const report = auditManifests(manifests, config);
  if (format === "sarif")
    print(JSON.stringify(reportSarif(report, { name: "atoll", version: cliVersion() }), null, 2));
  else if (format === "json") {
    const { rules: _described, ...rest } = report;
    print(JSON.stringify(rest, null, 2));
  } else print(reportText(report));

  if (
    failOn !== "none" &&
    report.findings.some((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(failOn as Severity))
  )
    return CHECK_EXIT.findings;
  if (minScore !== undefined && report.score < minScore) return CHECK_EXIT.lowScore;
  return CHECK_EXIT.passed;
}
