/**
 * Who a request acts for, and what it may see. With API keys, every process, session and event
 * belongs to the key that created it (its id, never its secret); admin keys see everything.
 */
export interface Principal {
  /** The id of the key presented; null when none was (keys off, or an open route). */
  readonly keyId: string | null;
  /** Sees and cancels everything. */
  readonly admin: boolean;
  /** What GATEWAY_CONFIG sets for the key (budget, allowed models, webhooks); absent for keys from the environment. */
  readonly policy?: KeyPolicy;
}

/** A key's limits and hooks as GATEWAY_CONFIG's `keys:` declares them; an absent field sets no limit. */
export interface KeyPolicy {
  /** USD spent at which the key is refused (429 budget_exceeded): per UTC day, and over all time. */
  readonly budgetUsd?: { readonly daily?: number; readonly total?: number };
  /** The model names (routes, aliases, `provider/model`) the key may ask for; absent: all. */
  readonly models?: readonly string[];
  /** URLs to which the key's events are posted. */
  readonly webhooks?: readonly string[];
}

/** Without keys the gateway has one user, who sees everything it holds. */
export const ANONYMOUS: Principal = Object.freeze({ keyId: null, admin: true });

/**
 * Whether `viewer` may see (or cancel, or continue) what the key `ownerKeyId` created. Something
 * with no owner (created without keys, or before owners were recorded) is an admin's only.
 */
export function visibleTo(viewer: Principal, ownerKeyId: string | null): boolean {
  return viewer.admin || (viewer.keyId !== null && viewer.keyId === ownerKeyId);
}
