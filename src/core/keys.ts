import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { KeyPolicy, Principal } from './ownership.js';

/** What a key id may look like: it names the key in records, events and logs. */
export const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The digest the gateway holds for a key's secret (SHA-256), as GATEWAY_CONFIG's `key_sha256` gives it in hex. */
export const keyDigest = (secret: string): Buffer => sha256(secret);

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
 * A key from GATEWAY_CONFIG: already a digest (of the secret its `key_env` names, or its
 * `key_sha256`), with the policy the file sets for it.
 */
export interface ConfigKey {
  readonly id: string;
  readonly digest: Buffer;
  readonly admin: boolean;
  readonly policy: KeyPolicy;
}

/**
 * The keys to check requests against. A secret listed twice under one id is one key (admin if
 * either listing is); under two ids it would make ownership ambiguous, so it is refused. Keys from
 * GATEWAY_CONFIG (`configKeys`) carry a policy, so their ids must be theirs alone: an id that is
 * also in the environment, or twice in the file, is refused.
 */
export function keyTable(
  keys: readonly KeyEntry[],
  adminKeys: readonly KeyEntry[],
  configKeys: readonly ConfigKey[] = [],
): HeldKey[] {
  const byDigest = new Map<string, HeldKey>();
  const add = (id: string, digest: Buffer, admin: boolean, policy?: KeyPolicy) => {
    const hex = digest.toString('hex');
    const prev = byDigest.get(hex);
    if (prev && prev.principal.keyId !== id) {
      throw new KeyConfigError(`the keys '${prev.principal.keyId}' and '${id}' have the same secret: give it one id`);
    }
    const principal: Principal = { keyId: id, admin: admin || (prev?.principal.admin ?? false) };
    byDigest.set(hex, { digest, principal: policy ? { ...principal, policy } : principal });
  };
  const listed = [...keys.map((k) => ({ ...k, admin: false })), ...adminKeys.map((k) => ({ ...k, admin: true }))];
  for (const k of listed) add(k.id, sha256(k.secret), k.admin);
  const envIds = new Set(listed.map((k) => k.id));
  const configIds = new Set<string>();
  for (const k of configKeys) {
    if (envIds.has(k.id)) {
      throw new KeyConfigError(`the key '${k.id}' is both in the environment and in GATEWAY_CONFIG: give one of them another id`);
    }
    if (configIds.has(k.id)) throw new KeyConfigError(`the key '${k.id}' is listed twice in GATEWAY_CONFIG`);
    configIds.add(k.id);
    // matchKey compares digests in constant time, which needs them all of one length.
    if (k.digest.length !== 32) throw new KeyConfigError(`the key '${k.id}' has no SHA-256 digest`);
    add(k.id, k.digest, k.admin, k.policy);
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
