import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const PREFIX = "atoll";

/**
 * A token is atoll_<id>_<secret>. The id finds the row; only SHA-256 of the secret is stored.
 * Secrets carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
 */
export function mintToken(): { id: string; secret: string; token: string; secretHash: string } {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, token: `${PREFIX}_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function parseToken(token: string): { id: string; secret: string } | undefined {
  const match = /^atoll_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$/.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, secretHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), "hex");
  const stored = Buffer.from(secretHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
