import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Credentials the hub must keep (push-mode kubeconfigs) are sealed with AES-256-GCM under a key
 * only the hub holds, so a database dump reveals nothing usable.
 */
export class SecretKeyError extends Error {
  readonly code = "SECRET_KEY_INVALID";
}

const VERSION = "v1";

export function parseSecretKey(encoded: string | undefined): Buffer {
  if (!encoded) {
    throw new SecretKeyError("ATOLL_SECRET_KEY is not set; generate one with: openssl rand -base64 32");
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length !== 32) {
    throw new SecretKeyError(
      `ATOLL_SECRET_KEY must be 32 bytes in base64 (it decodes to ${key.length}); generate one with: openssl rand -base64 32`,
    );
  }
  return key;
}

export function sealSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
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
