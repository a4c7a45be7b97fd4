import { type ChildProcess, execFile, spawn } from "node:child_process";
import { connect } from "node:net";
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
    const e = error as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === "ENOENT")
      throw new Error(
        `kubectl not found as "${KUBECTL}"; install it (apt-get install kubernetes-client) or set KUBECTL`,
      );
    // Some answers are a failure with words on stdout (auth can-i prints "no" and exits 1).
    const printed = e.stdout?.trim() ? ` (stdout: ${e.stdout.trim().slice(0, 2000)})` : "";
    throw new Error(`kubectl ${args.join(" ")} failed: ${e.stderr ?? e.message}${printed}`);
  }
}

/** Starts a long-running kubectl (e.g. get -w) and collects its output. */
export function kubectlStream(
  kubeconfig: string,
  args: string[],
  env: Record<string, string> = {},
): { output: () => string; stop: () => void; process: ChildProcess } {
  const child = spawn(KUBECTL, ["--kubeconfig", kubeconfig, ...args], { env: { ...process.env, ...env } });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { output: () => output, stop: () => child.kill("SIGTERM"), process: child };
}

/**
 * Starts `kubectl port-forward <args>` with a local port of kubectl's choosing, and resolves once
 * it listens. `websockets` picks kubectl's transport: SPDY tunnelled in WebSocket, or plain SPDY.
 */
export async function kubectlPortForward(
  kubeconfig: string,
  args: string[],
  websockets = true,
): Promise<{ port: number; output: () => string; stop: () => void; process: ChildProcess }> {
  const forward = kubectlStream(kubeconfig, ["port-forward", ...args], {
    KUBECTL_PORT_FORWARD_WEBSOCKETS: String(websockets),
  });
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      const listening = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(forward.output());
      if (listening) return resolve(Number(listening[1]));
      if (forward.process.exitCode !== null)
        return reject(new Error(`kubectl port-forward ${args.join(" ")} failed: ${forward.output()}`));
      setTimeout(check, 50);
    };
    check();
  });
  return { ...forward, port };
}

/** Sends bytes to a local port, half-closes, and returns everything that comes back. */
export function exchange(port: number, payload: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.end(payload));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
}
