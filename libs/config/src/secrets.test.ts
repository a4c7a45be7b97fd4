import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  hasSealedValues,
  openSecret,
  openSecretValues,
  parseSecretKey,
  SecretKeyError,
  sealSecret,
  sealSecretValues,
  templateKey,
  workKey,
} from "./secrets.js";

describe("sealed secrets", () => {
  const key = parseSecretKey(randomBytes(32).toString("base64"));

  it("round-trips, and never contains the plaintext", () => {
    const sealed = sealSecret(key, "token: abc123");
    expect(sealed).not.toContain("abc123");
    expect(openSecret(key, sealed)).toBe("token: abc123");
    expect(sealSecret(key, "same")).not.toBe(sealSecret(key, "same"));
  });

  it("refuses the wrong key, a tampered box and a malformed key", () => {
    const sealed = sealSecret(key, "x");
    expect(() => openSecret(randomBytes(32), sealed)).toThrow(/not the key/);
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1]! ^= 1;
    const tampered = `v1:${raw.toString("base64")}`;
    expect(() => openSecret(key, tampered)).toThrow(SecretKeyError);
    expect(() => parseSecretKey(undefined)).toThrow(/ATOLL_SECRET_KEY is not set/);
    expect(() => parseSecretKey("c2hvcnQ=")).toThrow(/32 bytes/);
  });

  it("seals a Secret's values, the same way each time, and only its values", () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "payments" },
      type: "Opaque",
      data: { password: Buffer.from("hunter2").toString("base64") },
      stringData: { user: "admin" },
    };
    const sealed = sealSecretValues(templateKey(key), secret);
    expect(JSON.stringify(sealed)).not.toMatch(/aHVudGVyMg|admin/);
    expect(sealed.metadata).toEqual(secret.metadata);
    expect(Object.keys(sealed.data)).toEqual(["password"]);
    expect(hasSealedValues(sealed)).toBe(true);
    expect(hasSealedValues(secret)).toBe(false);
    // Applying the same Secret again must be seen as no change.
    expect(sealSecretValues(templateKey(key), secret)).toEqual(sealed);
    expect(sealSecretValues(templateKey(key), sealed)).toEqual(sealed);
    expect(openSecretValues(templateKey(key), sealed)).toEqual(secret);
    const configMap = { apiVersion: "v1", kind: "ConfigMap", data: { a: "b" } };
    expect(sealSecretValues(templateKey(key), configMap)).toBe(configMap);
  });

  it("gives each cluster its own work key, which opens that cluster's works only", () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { k: "v" } };
    const forEast = sealSecretValues(workKey(key, "east"), secret);
    expect(openSecretValues(workKey(key, "east"), forEast)).toEqual(secret);
    expect(() => openSecretValues(workKey(key, "west"), forEast)).toThrow(SecretKeyError);
    expect(() => openSecretValues(templateKey(key), forEast)).toThrow(SecretKeyError);
    expect(workKey(key, "east")).not.toEqual(workKey(key, "west"));
  });
});
