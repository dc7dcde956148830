import { expect } from 'vitest';
import { ProviderError } from '../../providers/types.js';

/** What `f` throws; a test that expected a throw fails when it does not. */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

/** Expects `f` (a provider's prepare) to refuse the request: an `invalid_request` ProviderError with these fields. */
export function refusal(f: () => unknown, fields: { param?: string; code?: string }): void {
  const err = thrown(f);
  expect(err).toBeInstanceOf(ProviderError);
  expect(err).toMatchObject({ kind: 'invalid_request', ...fields });
}
