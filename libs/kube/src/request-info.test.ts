import { describe, expect, it } from "vitest";
import { apiPathSegments, isStreaming, isWrite, RequestPathError, requestInfo } from "./request-info.js";

const read = (method: string, target: string) => {
  const url = new URL(target, "http://x");
  const info = requestInfo(method, apiPathSegments(url.pathname), url.searchParams);
  return { ...info, write: isWrite(info, method), streaming: isStreaming(info, url.searchParams) };
};

describe("requestInfo", () => {
  it.each([
    ["GET", "/api/v1/pods", "list", "", "pods", "", "", false, false],
    ["GET", "/api/v1/namespaces/a/pods", "list", "a", "pods", "", "", false, false],
    ["GET", "/api/v1/namespaces/a/pods/p", "get", "a", "pods", "p", "", false, false],
    ["GET", "/api/v1/namespaces/a/pods?watch=true", "watch", "a", "pods", "", "", false, true],
    ["GET", "/api/v1/watch/namespaces/a/pods", "watch", "a", "pods", "", "", false, true],
    ["GET", "/api/v1/namespaces/a/pods/p/log", "get", "a", "pods", "p", "log", false, false],
    ["GET", "/api/v1/namespaces/a/pods/p/log?follow=true", "get", "a", "pods", "p", "log", false, true],
    ["POST", "/api/v1/namespaces/a/pods/p/exec?command=sh", "create", "a", "pods", "p", "exec", true, true],
    ["GET", "/api/v1/namespaces/a/pods/p/portforward", "get", "a", "pods", "p", "portforward", true, true],
    ["POST", "/apis/apps/v1/namespaces/a/deployments", "create", "a", "deployments", "", "", true, false],
    [
      "PUT",
      "/apis/apps/v1/namespaces/a/deployments/d/status",
      "update",
      "a",
      "deployments",
      "d",
      "status",
      true,
      false,
    ],
    ["PATCH", "/apis/apps/v1/namespaces/a/deployments/d", "patch", "a", "deployments", "d", "", true, false],
    ["DELETE", "/api/v1/namespaces/a/configmaps/c", "delete", "a", "configmaps", "c", "", true, false],
    ["DELETE", "/api/v1/namespaces/a/configmaps", "deletecollection", "a", "configmaps", "", "", true, false],
    ["GET", "/api/v1/namespaces/a", "get", "", "namespaces", "a", "", false, false],
    ["DELETE", "/api/v1/namespaces/a", "delete", "", "namespaces", "a", "", true, false],
    ["GET", "/api/v1/nodes/n1", "get", "", "nodes", "n1", "", false, false],
    ["GET", "/version", "get", "", "", "", "", false, false],
    ["POST", "/version", "post", "", "", "", "", true, false],
    ["GET", "/apis/apps/v1", "get", "", "", "", "", false, false],
    [
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      "create",
      "",
      "selfsubjectreviews",
      "",
      "",
      false,
      false,
    ],
    [
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      "create",
      "",
      "selfsubjectaccessreviews",
      "",
      "",
      false,
      false,
    ],
    [
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      "create",
      "",
      "subjectaccessreviews",
      "",
      "",
      true,
      false,
    ],
  ])("%s %s", (method, path, verb, namespace, resource, name, subresource, write, streaming) => {
    expect(read(method, path)).toMatchObject({
      verb,
      namespace,
      resource,
      name,
      subresource,
      write,
      streaming,
    });
  });

  it("separates the group and version of a named API group", () => {
    expect(read("GET", "/apis/policy.karmada.io/v1alpha1/propagationpolicies")).toMatchObject({
      group: "policy.karmada.io",
      version: "v1alpha1",
      isResourceRequest: true,
    });
  });
});

describe("apiPathSegments", () => {
  it.each([
    "/api/v1/namespaces/../secrets",
    "/api/v1/namespaces/%2e%2e/secrets",
    "/api/v1/./pods",
    "/api//v1/pods",
    "/api/v1/namespaces/a%2Fb/pods",
    "/api/v1/namespaces/a%5Cb/pods",
    "/api/v1/namespaces/a%00/pods",
    "/api/v1/namespaces/%zz/pods",
    "/metrics",
    "/",
    "relative/path",
  ])("refuses %s", (path) => {
    expect(() => apiPathSegments(path)).toThrow(RequestPathError);
  });

  it("decodes ordinary percent-encoding and tolerates one trailing slash", () => {
    expect(apiPathSegments("/api/v1/namespaces/team%20a/pods/")).toEqual([
      "api",
      "v1",
      "namespaces",
      "team a",
      "pods",
    ]);
  });
});
