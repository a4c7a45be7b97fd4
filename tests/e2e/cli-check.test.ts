import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serviceEntry } from "@atoll/devkit";
import { healthScore } from "@atoll/insight";
import { afterAll, describe, expect, it } from "vitest";

/** Runs `atoll check`, with input on stdin if given; answers its exit code and output, whatever the code. */
function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return checkWithInput(undefined, ...args);
}

function checkWithInput(
  input: string | undefined,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [serviceEntry("@atoll/cli"), "check", ...args],
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? "");
  });
}

const deployment = (name: string, container: string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: shop }
spec:
  replicas: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - ${container}
`;

describe("atoll check", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-check-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
    return join(dir, path);
  };
  const risky = write(
    "app/risky.yaml",
    `# a comment first\n${deployment("risky", "{ name: main, image: nginx, securityContext: { privileged: true } }")}`,
  );
  const mild = write(
    "app/nested/mild.yaml",
    deployment(
      "mild",
      `{ name: main, image: "registry.example/mild:1.0", securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } } }`,
    ),
  );

  it("fails the build on high findings by default, pointing at file and line", async () => {
    const { code, stdout } = await check("-f", risky);
    expect(code).toBe(3);
    expect(stdout).toContain(`${risky}:2  critical runAsPrivileged  Deployment shop/risky (container main)`);
    expect(stdout.trim().split("\n").at(-1)).toMatch(
      /^1 object, \d+ findings \(1 critical, .*\), score \d+\.\d$/,
    );
  });

  it("passes a set with nothing at or above --fail-on, and reads subdirectories only with -R", async () => {
    const flat = JSON.parse((await check("-f", join(dir, "app"), "-o", "json", "--fail-on", "none")).stdout);
    expect(flat.objects).toBe(1);
    const deep = await check("-f", join(dir, "app"), "-R", "-o", "json", "--fail-on", "none");
    expect(deep.code).toBe(0);
    const report = JSON.parse(deep.stdout);
    expect(report.objects).toBe(2);
    const mildFindings = report.findings.filter((f: { name: string }) => f.name === "mild");
    expect(mildFindings.every((f: { severity: string }) => !["high", "critical"].includes(f.severity))).toBe(
      true,
    );
    expect((await check("-f", mild)).code).toBe(0);
    // The score is the mean of the objects' scores, by the documented formula.
    const scoreOf = (name: string) =>
      healthScore(
        report.findings
          .filter((f: { name: string }) => f.name === name)
          .map((f: { severity: "low" }) => f.severity),
      );
    expect(report.score).toBeCloseTo((scoreOf("risky") + scoreOf("mild")) / 2, 6);
  });

  it("exits 4 when the score is below --min-score, and 0 when it is not", async () => {
    const report = JSON.parse((await check("-f", mild, "-o", "json", "--fail-on", "none")).stdout);
    expect(
      (await check("-f", mild, "--fail-on", "none", "--min-score", String(Math.ceil(report.score) + 1))).code,
    ).toBe(4);
    expect(
      (await check("-f", mild, "--fail-on", "none", "--min-score", String(Math.floor(report.score)))).code,
    ).toBe(0);
  });

  it("reads manifests from standard input with -f -, as a renderer's output is piped in", async () => {
    const { code, stdout } = await checkWithInput(readFileSync(risky, "utf8"), "-f", "-", "-o", "json");
    expect(code).toBe(3);
    const report = JSON.parse(stdout);
    expect(report.objects).toBe(1);
    expect(report.findings.find((f: { rule: string }) => f.rule === "runAsPrivileged")).toMatchObject({
      file: "stdin",
      line: 2,
    });
  });

  it("writes SARIF for code scanning", async () => {
    const { stdout } = await check("-f", risky, "-o", "sarif", "--fail-on", "none");
    const sarif = JSON.parse(stdout);
    expect(sarif.version).toBe("2.1.0");
    const result = sarif.runs[0].results.find((r: { ruleId: string }) => r.ruleId === "runAsPrivileged");
    expect(result.level).toBe("error");
    expect(result.locations[0].physicalLocation.region.startLine).toBe(2);
    expect(sarif.runs[0].tool.driver.name).toBe("atoll");
  });

  it("runs custom rules and exemptions from the configuration", async () => {
    const config = write(
      "atoll.yaml",
      `customRules:
  approvedRegistry:
    target: Container
    severity: critical
    category: Security
    description: Images come from registry.example
    why: Other registries are not scanned.
    fix: Mirror the image into registry.example.
    schema: { properties: { image: { pattern: "^registry\\\\.example/" } } }
exemptions:
  - { names: [risky] }
`,
    );
    const both = [join(dir, "app"), "-R", "--config", config, "-o", "json", "--fail-on", "none"];
    const report = JSON.parse((await check("-f", ...both)).stdout);
    expect(report.findings.filter((f: { name: string }) => f.name === "risky")).toEqual([]);
    const elsewhere = write(
      "other.yaml",
      deployment("elsewhere", '{ name: main, image: "docker.io/app:1" }'),
    );
    const flagged = await check("-f", elsewhere, "--config", config);
    expect(flagged.code).toBe(3);
    expect(flagged.stdout).toContain("critical approvedRegistry  Deployment shop/elsewhere (container main)");
    expect((await check("-f", mild, "--config", config)).stdout).not.toContain("approvedRegistry");
  });

  it("says what is wrong with bad input: exit 1 for unreadable input, 2 for a usage mistake", async () => {
    const broken = write("broken.yaml", "kind: Pod\nmetadata: {name: [\n");
    const unreadable = await check("-f", broken);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(new RegExp(`^error: ${broken}:\\d+: `));
    const missing = await check("-f", join(dir, "nope.yaml"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file or directory");
    const badConfig = write(
      "bad-config.yaml",
      "customRules:\n  runAsPrivileged: { target: Container, schema: {} }\n",
    );
    expect((await check("-f", risky, "--config", badConfig)).stderr).toContain("is a built-in rule");
    expect((await check("-f", risky, "--fail-on", "severe")).stderr).toContain(
      "--fail-on severe: use one of info, low, medium, high, critical, or none",
    );
    expect((await check("-f", risky, "-o", "xml")).stderr).toContain("the formats are text, json, sarif");
    expect((await check()).stderr).toContain("check needs -f FILE or -f DIR");
    const unknownFlag = await check("-f", risky, "--bogus");
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("--bogus");
    expect(unknownFlag.stderr).toContain("see: atoll help check");
    expect(unknownFlag.stderr).not.toContain("    at ");
  });
});
