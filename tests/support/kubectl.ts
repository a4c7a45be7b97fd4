import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
export const KUBECTL = process.env.KUBECTL ?? "kubectl";

/** Runs the real kubectl; a missing binary fails loudly with how to install it. */
export async function kubectl(kubeconfig: string, args: string[], stdin?: string): Promise<string> {
  try {
    const child = run(KUBECTL, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
    if (stdin !== undefined) {
      child.child.stdin?.end(stdin);
    }
    return (await child).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT")
      throw new Error(
        `kubectl not found as "${KUBECTL}"; install it (apt-get install kubernetes-client) or set KUBECTL`,
      );
    throw new Error(`kubectl ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

/** Starts a long-running kubectl (e.g. get -w) and collects its output. */
export function kubectlStream(
  kubeconfig: string,
  args: string[],
): { output: () => string; stop: () => void; process: ChildProcess } {
  const child = spawn(KUBECTL, ["--kubeconfig", kubeconfig, ...args]);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { output: () => output, stop: () => child.kill("SIGTERM"), process: child };
}
