import { describe, expect, it } from "vitest";
import { redactObject } from "./redact.js";

describe("redactObject", () => {
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "db",
      managedFields: [{ manager: "kubectl" }],
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}',
        team: "a",
      },
    },
    data: { password: Buffer.from("hunter2").toString("base64") },
    stringData: { token: "abcdef" },
  };

  it("keeps keys and lengths of secret values and drops the values", () => {
    const out = redactObject(secret);
    expect(out.data).toEqual({ password: { redacted: true, length: 7 } });
    expect(out.stringData).toEqual({ token: { redacted: true, length: 6 } });
    expect(JSON.stringify(out)).not.toContain("aHVudGVyMg");
    expect(JSON.stringify(out)).not.toContain("abcdef");
  });

  it("drops managed fields and the last-applied annotation but keeps other annotations", () => {
    const out = redactObject(secret);
    expect(out.metadata).not.toHaveProperty("managedFields");
    expect(out.metadata.annotations).toEqual({ team: "a" });
  });

  it("leaves the input untouched and other kinds' data alone", () => {
    const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } };
    expect(redactObject(configMap)).toEqual(configMap);
    expect(secret.data.password).toBe(Buffer.from("hunter2").toString("base64"));
  });
});
