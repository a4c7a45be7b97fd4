import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSecret, parseSecretKey, SecretKeyError, sealSecret } from "./secrets.js";

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
});
