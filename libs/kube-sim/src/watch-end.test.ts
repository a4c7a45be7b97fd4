import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeSim } from "./server.js";

/**
 * A watch whose timeout has ended its response, while a slow client still has megabytes of it
 * buffered, keeps hearing the store's writes until the response closes; none may be written.
 */
describe("a watch ended by its timeout", () => {
  const sim = new KubeSim({ name: "watch-end", token: "t", tls: false });
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);

  beforeAll(async () => {
    await sim.start();
    process.on("uncaughtException", onError);
  });
  afterAll(async () => {
    process.off("uncaughtException", onError);
    await sim.stop();
  });

  const configMap = (i: number) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `cm-${i}`, namespace: "default" },
    data: { blob: "x".repeat(4096) },
  });

  it("is never written to after it ended, however many writes follow", async () => {
    const url = new URL("/api/v1/configmaps?watch=1&timeoutSeconds=1", sim.url);
    // The client reads nothing, so what the watch sends stays buffered and the response stays open.
    const response = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      const req = request(url, { headers: { authorization: "Bearer t" } }, resolve);
      req.on("error", reject);
      req.end();
    });
    response.pause();
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 2_500) {
      for (let n = 0; n < 200; n++) sim.apply(configMap(i++));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    response.destroy();
    expect(i).toBeGreaterThan(1000);
    expect(errors.map((e) => String(e))).toEqual([]);
  });
});
