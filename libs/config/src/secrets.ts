import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { JsonObject } from "@atoll/kube";

/**
 * Credentials the hub must keep (push-mode kubeconfigs) and the values of Secrets it places are
 * sealed with AES-256-GCM under a key only the hub holds, so a database or stream dump reveals
 * nothing usable.
 */
export class SecretKeyError extends Error {
  readonly code = "SECRET_KEY_INVALID";
}

const VERSION = "v1";

/** A 32-byte key in base64, from the environment variable named. */
export function parseSecretKey(encoded: string | undefined, variable = "ATOLL_SECRET_KEY"): Buffer {
  if (!encoded) {
    throw new SecretKeyError(`${variable} is not set; generate one with: openssl rand -base64 32`);
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length !== 32) {
    throw new SecretKeyError(
      `${variable} must be 32 bytes in base64 (it decodes to ${key.length}); generate one with: openssl rand -base64 32`,
    );
  }
  return key;
}

export function sealSecret(key: Buffer, plaintext: string): string {
  return sealWithNonce(key, plaintext, randomBytes(12));
}

function sealWithNonce(key: Buffer, plaintext: string, iv: Buffer): string {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

export function openSecret(key: Buffer, sealed: string): string {
  const [version, payload] = sealed.split(":", 2);
  if (version !== VERSION || !payload) throw new SecretKeyError("sealed secret has an unknown format");
  const raw = Buffer.from(payload, "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretKeyError(
      "cannot open a sealed secret: ATOLL_SECRET_KEY is not the key it was sealed with",
    );
  }
}

/**
 * The key one purpose or one cluster gets from the hub's key. A cluster's agent holds only its
 * own work key, so a member cluster can open what it is sent and nothing else.
 */
function derivedKey(hubKey: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", hubKey, "atoll", info, 32));
}

/** Seals Secret values in stored templates and policies' resource templates. */
export const templateKey = (hubKey: Buffer): Buffer => derivedKey(hubKey, "templates");
/** Seals Secret values in the works sent to one cluster; its agent opens them with this key. */
export const workKey = (hubKey: Buffer, cluster: string): Buffer => derivedKey(hubKey, `work/${cluster}`);

/** Marks a Secret value sealed by sealSecretValues. */
const SEALED_VALUE = "atoll-sealed:";

const isSecret = (manifest: JsonObject) => manifest?.kind === "Secret" && manifest?.apiVersion === "v1";
const SECRET_VALUE_FIELDS = ["data", "stringData"] as const;

function mapSecretValues(manifest: JsonObject, map: (value: string) => string): JsonObject {
  if (!isSecret(manifest)) return manifest;
  const sealed: JsonObject = { ...manifest };
  for (const field of SECRET_VALUE_FIELDS) {
    const values = manifest[field];
    if (!values || typeof values !== "object") continue;
    sealed[field] = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? map(v) : v]),
    );
  }
  return sealed;
}

/**
 * A Secret with its data and stringData values sealed (AES-256-GCM); any other object unchanged.
 * The nonce comes from the value itself, so sealing the same Secret twice gives the same text and
 * applying it again is seen as no change; equal values under one key look equal, nothing more.
 */
export function sealSecretValues(key: Buffer, manifest: JsonObject): JsonObject {
  return mapSecretValues(manifest, (value) => {
    if (value.startsWith(SEALED_VALUE)) return value;
    const iv = createHmac("sha256", key).update(value).digest().subarray(0, 12);
    return `${SEALED_VALUE}${sealWithNonce(key, value, iv)}`;
  });
}

/** The Secret's values as sealSecretValues found them; throws SecretKeyError with the wrong key. */
export function openSecretValues(key: Buffer, manifest: JsonObject): JsonObject {
  return mapSecretValues(manifest, (value) =>
    value.startsWith(SEALED_VALUE) ? openSecret(key, value.slice(SEALED_VALUE.length)) : value,
  );
}

/** Whether any of a Secret's values is sealed. */
export function hasSealedValues(manifest: JsonObject): boolean {
  return (
    isSecret(manifest) &&
    SECRET_VALUE_FIELDS.some((field) => {
      const values = manifest[field];
      return (
        typeof values === "object" &&
        values !== null &&
        Object.values(values).some((v) => typeof v === "string" && v.startsWith(SEALED_VALUE))
      );
    })
  );
}
