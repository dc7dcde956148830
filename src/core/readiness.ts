import type { Provider, ProviderHealth } from '../../providers/types.js';
import { fromProviderError } from './errors.js';

const RECHECK_FAILED_MS = 10_000;

interface Check {
  at: number;
  health: Promise<ProviderHealth>;
  /** Known once the check has answered. */
  ok?: boolean;
}

/**
 * Whether each provider is usable at all: checked once (one check at a time, however many ask),
 * then cached, per provider; a failure is checked again after a while, so a CLI installed later is found.
 */
export class Readiness {
  /** By provider name. */
  private readonly cached = new Map<string, Check>();

  get(provider: Provider): Promise<ProviderHealth> {
    const c = this.cached.get(provider.name);
    if (c && !(c.ok === false && Date.now() - c.at > RECHECK_FAILED_MS)) return c.health;
    const entry: Check = { at: Date.now(), health: provider.check() };
    this.cached.set(provider.name, entry);
    entry.health.then(
      (h) => (entry.ok = h.ok),
      () => {
        // A check that threw is tried again next time.
        if (this.cached.get(provider.name) === entry) this.cached.delete(provider.name);
      },
    );
    return entry.health;
  }

  /** Throws the error (a 503) that an unusable provider stands for. */
  async assert(provider: Provider): Promise<Extract<ProviderHealth, { ok: true }>> {
    const h = await this.get(provider);
    if (!h.ok) throw fromProviderError(h.error);
    return h;
  }
}
