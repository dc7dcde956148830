import type { ProviderHealth } from '../../providers/types.js';
import { fromProviderError } from './errors.js';

const RECHECK_FAILED_MS = 10_000;

interface Check {
  at: number;
  health: Promise<ProviderHealth>;
  /** Known once the check has answered. */
  ok?: boolean;
}

/**
 * Whether the provider is usable at all: checked once (one check at a time, however many ask),
 * then cached; a failure is checked again after a while, so a CLI installed later is found.
 */
export class Readiness {
  private cached: Check | undefined;

  constructor(private readonly check: () => Promise<ProviderHealth>) {}

  get(): Promise<ProviderHealth> {
    const c = this.cached;
    if (c && !(c.ok === false && Date.now() - c.at > RECHECK_FAILED_MS)) return c.health;
    const entry: Check = { at: Date.now(), health: this.check() };
    this.cached = entry;
    entry.health.then(
      (h) => (entry.ok = h.ok),
      () => {
        if (this.cached === entry) this.cached = undefined; // a check that threw is tried again next time
      },
    );
    return entry.health;
  }

  /** Throws the error (a 503) that an unusable provider stands for. */
  async assert(): Promise<Extract<ProviderHealth, { ok: true }>> {
    const h = await this.get();
    if (!h.ok) throw fromProviderError(h.error);
    return h;
  }
}
