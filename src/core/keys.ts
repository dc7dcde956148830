import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from './ownership.js';

/** What a key id may look like: it names the key in records, events and logs. */
export const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The id of a key given without one: from its hash, so nothing the gateway writes holds the secret. */
export const derivedKeyId = (secret: string): string => `key_${sha256(secret).toString('hex').slice(0, 12)}`;

/**
 * One key as GATEWAY_API_KEYS, GATEWAY_ADMIN_KEYS and the key file write it: `id:secret` when the
 * part before the first `:` is a key id (KEY_ID), else a bare secret whose id is derived. A bare
 * secret containing `:` is therefore written with an explicit id (`mykey:se:cret`). `id:` with
 * nothing after it is refused, not read as a secret ending in `:`. Messages never quote the secret.
 */
export const keyEntrySchema = z.string().transform((raw, ctx) => {
  const entry = raw.trim();
  const colon = entry.indexOf(':');
  const id = colon > 0 ? entry.slice(0, colon).trim() : '';
  if (KEY_ID.test(id)) {
    const secret = entry.slice(colon + 1).trim();
    if (secret) return { id, secret };
    ctx.addIssue({ code: 'custom', message: `key '${id}' has no secret after its ':'` });
    return z.NEVER;
  }
  if (!entry) {
    ctx.addIssue({ code: 'custom', message: 'empty key' });
    return z.NEVER;
  }
  return { id: derivedKeyId(entry), secret: entry };
});
export type KeyEntry = z.output<typeof keyEntrySchema>;

/** Keys that cannot be used as configured (the message names ids and lines, never secrets). */
export class KeyConfigError extends Error {
  override name = 'KeyConfigError';
}

/** A key as the gateway holds it: the digest of its secret, and whom it stands for. */
export interface HeldKey {
  digest: Buffer;
  principal: Principal;
}

/**
 * The keys to check requests against. A secret listed twice under one id is one key (admin if
 * either listing is); under two ids it would make ownership ambiguous, so it is refused.
 */
export function keyTable(keys: readonly KeyEntry[], adminKeys: readonly KeyEntry[]): HeldKey[] {
  const byDigest = new Map<string, HeldKey>();
  const listed = [...keys.map((k) => ({ ...k, admin: false })), ...adminKeys.map((k) => ({ ...k, admin: true }))];
  for (const k of listed) {
    const digest = sha256(k.secret);
    const prev = byDigest.get(digest.toString('hex'));
    if (prev && prev.principal.keyId !== k.id) {
      throw new KeyConfigError(`the keys '${prev.principal.keyId}' and '${k.id}' have the same secret: give it one id`);
    }
    byDigest.set(digest.toString('hex'), { digest, principal: { keyId: k.id, admin: k.admin || (prev?.principal.admin ?? false) } });
  }
  return [...byDigest.values()];
}

/**
 * Whom `candidate` stands for, if it is one of the keys. Constant time: hashing makes every
 * comparison the same length, and every key is compared, whichever matches.
 */
export function matchKey(table: readonly HeldKey[], candidate: string): Principal | undefined {
  const d = sha256(candidate);
  let found: Principal | undefined;
  for (const k of table) if (timingSafeEqual(k.digest, d)) found = k.principal;
  return found;
}
