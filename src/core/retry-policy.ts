import type { ProviderError } from '../../providers/types.js';

/** How often one target is tried, and how long between tries (GATEWAY_CONFIG `retry`). */
export interface RetryPolicy {
  /** Tries per target, the first one included. */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 3, initialBackoffMs: 250, maxBackoffMs: 8_000 });

/**
 * How long to wait before trying the same target again after its `attempt`-th try (1-based) failed
 * with `err`, or undefined when it is not tried again: the error is not retryable, the tries are
 * used up, or the wait would not end within `remainingMs`. Exponential backoff with full jitter
 * (spreads the retries of many clients); an upstream's Retry-After is a floor, and one longer than
 * `maxBackoffMs` means "not soon": the next target is better than waiting.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  err: ProviderError,
  remainingMs: number,
  random: () => number = Math.random,
): number | undefined {
  if (!err.retryable || attempt >= policy.attempts) return undefined;
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxBackoffMs) return undefined;
  const delay = Math.max(jittered, err.retryAfterMs ?? 0);
  return delay < remainingMs ? delay : undefined;
}
