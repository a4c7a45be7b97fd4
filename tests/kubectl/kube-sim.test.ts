import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { exchange, kubectl, kubectlPortForward, kubectlStream } from "../support/kubectl.js";

describe("the real kubectl against kube-sim", () => {
  const sim = new KubeSim({ name: "kubectl-sim", token: "kubectl-token" });
  const dir = mkdtempSync(join(tmpdir(), "atoll-kubectl-"));
  const kubeconfig = join(dir, "kubeconfig");

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, {
      seed: 9,
      failures: { CrashLoopBackOff: 1, ImagePullBackOff: 1, Unschedulable: 1 },
    });
    writeFileSync(kubeconfig, sim.kubeconfig());
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const pods = () => sim.store.list(sim.store.findType("", "v1", "pods")!).map(({ object }) => object);

  it("get pods -A prints every pod with kubectl's columns and real statuses", async () => {
    const out = await kubectl(kubeconfig, ["get", "pods", "-A"]);
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines).toHaveLength(pods().length + 1);
    for (const pod of pods()) expect(out).toContain(pod.metadata.name);
    expect(out).toMatch(/CrashLoopBackOff/);
    expect(out).toMatch(/ImagePullBackOff/);
    expect(out).toMatch(/0\/1\s+Pending/);
  });

  it("get deploy -n prod -o yaml returns the namespace's deployments", async () => {
    const out = YAML.parse(await kubectl(kubeconfig, ["get", "deploy", "-n", "prod", "-o", "yaml"]));
    const expected = sim.store
      .list(sim.store.findType("apps", "v1", "deployments")!, "prod")
      .map(({ object }) => object.metadata.name);
    expect(out.kind).toBe("List");
    expect(out.items.map((d: { metadata: { name: string } }) => d.metadata.name)).toEqual(expected);
    expect(out.items[0].spec.template.spec.containers[0].image).toBeTruthy();
  });

  it("apply --server-side creates and updates; delete removes", async () => {
    const manifest = (replicas: number) =>
      YAML.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "ssa-web", namespace: "staging", labels: { app: "ssa-web" } },
        spec: {
          replicas,
          selector: { matchLabels: { app: "ssa-web" } },
          template: {
            metadata: { labels: { app: "ssa-web" } },
            spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
          },
        },
      });
    const file = join(dir, "deployment.yaml");
    writeFileSync(file, manifest(2));
    expect(await kubectl(kubeconfig, ["apply", "--server-side", "-f", file])).toMatch(
      /deployment.apps\/ssa-web serverside-applied/,
    );
    const deployments = sim.store.findType("apps", "v1", "deployments")!;
    expect(sim.store.get(deployments, "staging", "ssa-web").spec.replicas).toBe(2);
    writeFileSync(file, manifest(5));
    await kubectl(kubeconfig, ["apply", "--server-side", "-f", file]);
    const updated = sim.store.get(deployments, "staging", "ssa-web");
    expect(updated.spec.replicas).toBe(5);
    expect(updated.metadata.generation).toBe(2);
    expect(await kubectl(kubeconfig, ["delete", "-f", file])).toMatch(/deployment.apps "ssa-web" deleted/);
    expect(sim.store.tryGet(deployments, "staging", "ssa-web")).toBeUndefined();
  });

  it("logs, logs --tail and exec answer from the sim", async () => {
    const pod = pods()[0]!;
    const container = pod.spec.containers[0].name as string;
    for (const n of [1, 2, 3])
      sim.writeLog(pod.metadata.namespace, pod.metadata.name, `line ${n}`, container);
    const args = ["-n", pod.metadata.namespace, pod.metadata.name, "-c", container];
    expect(await kubectl(kubeconfig, ["logs", ...args])).toBe("line 1\nline 2\nline 3\n");
    expect(await kubectl(kubeconfig, ["logs", "--tail=1", ...args])).toBe("line 3\n");
    expect(await kubectl(kubeconfig, ["exec", ...args, "--", "hostname"])).toBe(`${pod.metadata.name}\n`);
    await expect(kubectl(kubeconfig, ["exec", ...args, "--", "reboot"])).rejects.toThrow(/exit code 127/);
  });

  it.each([
    ["SPDY tunnelled in WebSocket (kubectl's default)", true],
    ["plain SPDY", false],
  ])("port-forward over %s carries bytes both ways, connection after connection", async (_, websockets) => {
    sim.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "echo", namespace: "default" },
      spec: { containers: [{ name: "echo", image: "echo", ports: [{ containerPort: 7 }] }] },
      status: { phase: "Running" },
    });
    const forward = await kubectlPortForward(kubeconfig, ["-n", "default", "pod/echo", ":7"], websockets);
    try {
      expect((await exchange(forward.port, "first")).toString()).toBe("first");
      // Large enough to span many frames, and random so that reordering or loss would show.
      const large = randomBytes(3 * 1024 * 1024 + 17);
      expect((await exchange(forward.port, large)).equals(large)).toBe(true);
      expect((await exchange(forward.port, "third")).toString()).toBe("third");
      expect(forward.process.exitCode).toBeNull();
      // A WebSocket opens with GET; SPDY's upgrade is a POST.
      expect(sim.requests.filter((r) => r.subresource === "portforward").at(-1)?.method).toBe(
        websockets ? "GET" : "POST",
      );
    } finally {
      forward.stop();
    }
  });

  it("port-forward to a port nothing listens on fails as a kubelet reports it", async () => {
    const forward = await kubectlPortForward(kubeconfig, ["-n", "default", "pod/echo", ":8081"]);
    try {
      expect((await exchange(forward.port, "anyone?")).length).toBe(0);
      await until(() => forward.process.exitCode !== null, "kubectl to give up on the forward");
      expect(forward.output()).toMatch(
        /error forwarding port 8081 to pod default\/echo: .*connection refused/,
      );
      expect(forward.output()).toMatch(/lost connection to pod/);
    } finally {
      forward.stop();
    }
  });

  it("get pods -w prints a pod created while it watches", async () => {
    const watch = kubectlStream(kubeconfig, ["get", "pods", "-n", "default", "-w"]);
    try {
      await until(() => watch.output().includes("NAME"), "the initial listing");
      const podType = sim.store.findType("", "v1", "pods")!;
      sim.store.create(podType, {
        metadata: { name: "watched-pod", namespace: "default" },
        spec: { containers: [{ name: "c", image: "busybox" }] },
        status: { phase: "Pending" },
      });
      await until(
        () => /watched-pod\s+0\/1\s+Pending/.test(watch.output()),
        "kubectl -w to print the new pod",
      );
      sim.store.delete(podType, "default", "watched-pod");
    } finally {
      watch.stop();
    }
  });
});
