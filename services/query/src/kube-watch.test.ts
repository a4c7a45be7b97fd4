import http from "node:http";
import type { AddressInfo } from "node:net";
import { until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { applyIndexOps, ChangeFeed } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { testQueryApp } from "./test-app.js";

describe("watch over the index", () => {
  const handle = suiteDatabase("query_watch");

  beforeAll(async () => {
    // Discovery serves what is indexed, so the index needs a pod before pods can be watched.
    await applyIndexOps(handle.sql, [
      {
        op: "upsert",
        row: {
          cluster: "eu",
          uid: "uid-web",
          apiGroup: "",
          apiVersion: "v1",
          kind: "Pod",
          resource: "pods",
          namespace: "shop",
          name: "web",
          resourceVersion: 1n,
          syncId: "s",
          objectJson: JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "web", namespace: "shop", uid: "uid-web" },
          }),
        },
      },
    ]);
  });

  it("lets go of the change feed and the connection when the client hangs up", async () => {
    const changes = new ChangeFeed(handle.sql, { logger: silentLogger() });
    const app = testQueryApp(handle, { changes, auth: { anonymousRole: "viewer" } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const watch = http.get(`http://127.0.0.1:${port}/k8s/all/api/v1/pods?watch=true`);
      const response = await new Promise<http.IncomingMessage>((resolve) => watch.once("response", resolve));
      expect(response.statusCode).toBe(200);
      // The pod already indexed arrives first, so the watch is past its catch-up and live.
      const first = await new Promise<string>((resolve) =>
        response.once("data", (chunk) => resolve(String(chunk))),
      );
      expect(JSON.parse(first)).toMatchObject({ type: "ADDED", object: { metadata: { name: "web" } } });
      expect(changes.subscribers).toBe(1);
      watch.destroy();
      await until(() => changes.subscribers === 0, "the watch to unsubscribe from the feed");
      const open = () => new Promise<number>((resolve) => app.server.getConnections((_, n) => resolve(n)));
      await until(async () => (await open()) === 0, "the server to drop the watch's connection");
    } finally {
      changes.stop();
      await app.close();
    }
  });

  it("bounds timeoutSeconds and refuses a resourceVersion the index has not reached", async () => {
    const changes = new ChangeFeed(handle.sql, { logger: silentLogger() });
    const app = testQueryApp(handle, { changes, auth: { anonymousRole: "viewer" } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    /** A watch's status code, its first line, and whether the server ended it within a second. */
    const watch = (query: string) =>
      new Promise<{ status: number; first: string; ended: boolean }>((resolve) => {
        const request = http.get(
          `http://127.0.0.1:${port}/k8s/all/api/v1/pods?watch=true&${query}`,
          (response) => {
            let first = "";
            response.on("data", (chunk) => {
              first ||= String(chunk).split("\n")[0]!;
            });
            const finish = (ended: boolean) => resolve({ status: response.statusCode ?? 0, first, ended });
            response.on("end", () => finish(true));
            setTimeout(() => {
              finish(false);
              request.destroy();
            }, 1000);
          },
        );
      });
    try {
      // 99999999999 s once overflowed the timer and closed the watch at once; it is capped instead.
      const long = await watch("timeoutSeconds=99999999999&resourceVersion=0");
      expect(long.status).toBe(200);
      expect(long.ended).toBe(false);
      expect((await watch("timeoutSeconds=-5")).status).toBe(400);
      expect((await watch("timeoutSeconds=soon")).status).toBe(400);
      // A version far in the future is an error the client acts on, not silence forever.
      const future = await watch("resourceVersion=99999999999");
      expect(JSON.parse(future.first)).toMatchObject({
        type: "ERROR",
        object: { code: 504, reason: "Timeout" },
      });
      expect(future.ended).toBe(true);
    } finally {
      changes.stop();
      await app.close();
    }
  });
});
