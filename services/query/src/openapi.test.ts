import { suiteDatabase } from "@atoll/store/testing";
import { describe, expect, it } from "vitest";
import { OPENAPI_DOCUMENT } from "./openapi.js";
import { testQueryApp } from "./test-app.js";

describe("the OpenAPI description", () => {
  const handle = suiteDatabase("openapi");

  const app = () =>
    testQueryApp(handle, {
      auth: { adminToken: "openapi-test-admin-token" },
      registry: {} as never,
      bus: {} as never,
    });

  it("is served without a token and describes exactly the routes the service has", async () => {
    const server = app();
    const response = await server.inject({ url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    await server.ready();
    const served = (
      server as unknown as { registeredRoutes: { method: string; url: string }[] }
    ).registeredRoutes
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, "{$1}").replace(/\*$/, "{path}")}`)
      .filter((r) => !r.startsWith("OPTIONS"))
      // The web console's pages and bundle are a site, not the API (docs/console.md describes them).
      .filter((r) => !/^\w+ \/ui(\/|$)/.test(r));
    const described = Object.entries(OPENAPI_DOCUMENT.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const kube = (r: string) => r.includes("/k8s/") || r.includes("/proxy/");
    expect([...new Set(served.filter((r) => !kube(r)))].sort()).toEqual(
      described.filter((r) => !kube(r)).sort(),
    );
    // The kube roots accept every method (and answer 405 to writes); their GET is what is described.
    // The gateway accepts every method too; the ones kubectl sends are described.
    expect(described.filter(kube).sort()).toEqual([
      "DELETE /proxy/clusters/{cluster}/{path}",
      "GET /k8s/all/{path}",
      "GET /k8s/clusters/{cluster}/{path}",
      "GET /proxy/clusters/{cluster}/{path}",
      "PATCH /proxy/clusters/{cluster}/{path}",
      "POST /proxy/clusters/{cluster}/{path}",
      "PUT /proxy/clusters/{cluster}/{path}",
    ]);
    expect(served.filter(kube)).toEqual(expect.arrayContaining(described.filter(kube)));
  });

  it("answers every kind of error with the documented problem shape", async () => {
    const server = app();
    const required = OPENAPI_DOCUMENT.components.schemas.Problem.required;
    const token = { authorization: "Bearer openapi-test-admin-token" };
    for (const [url, headers, status] of [
      ["/api/v1/search?q=x", {}, 401],
      ["/api/v1/search?mode=sql&q=DELETE%20FROM%20resources", token, 400],
      ["/api/v1/search?q=colour:red", token, 400],
      ["/api/v1/nope", token, 404],
      ["/api/v1/search?q=x&limit=0", token, 400],
    ] as const) {
      const response = await server.inject({ url, headers });
      expect(response.statusCode, url).toBe(status);
      expect(response.headers["content-type"]).toContain("application/problem+json");
      expect(Object.keys(response.json())).toEqual(expect.arrayContaining([...required]));
    }
  });
});
