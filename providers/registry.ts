/**
 * Model name → provider: the providers the gateway runs, by name, and which one serves a requested
 * model. Like every file under providers/, it imports nothing from the core.
 */
import type { ModelInfo, Provider } from './types.js';

/** A requested model name resolved: the provider that serves it, and its own name of the model. */
export interface Target {
  provider: Provider;
  /** The provider's own model name (`sonnet` for `claude-cli/sonnet`). */
  model: string;
}

/** A target as the gateway names it (headers, process records): `<provider>/<its model name>`, e.g. `claude-cli/sonnet`. */
export const targetName = (target: Target): string => `${target.provider.name}/${target.model}`;

export class ProviderRegistry {
  private readonly byName = new Map<string, Provider>();

  /** The providers in the order bare model names are offered to them; their names must differ. */
  constructor(providers: Iterable<Provider>) {
    for (const provider of providers) {
      if (this.byName.has(provider.name)) throw new Error(`two providers are named '${provider.name}'`);
      this.byName.set(provider.name, provider);
    }
  }

  /** Every provider, in registration order. */
  get providers(): Provider[] {
    return [...this.byName.values()];
  }

  get(name: string): Provider | undefined {
    return this.byName.get(name);
  }

  /**
   * The target serving a requested model name, or undefined when none does. `<provider>/<model>` is
   * that provider's alone; any other name goes to the first provider that serves it (the Claude CLI
   * takes bare aliases and `claude-…` names). Each provider reads the name as it was requested.
   */
  resolve(requested: string): Target | undefined {
    const slash = requested.indexOf('/');
    const named = slash > 0 ? this.byName.get(requested.slice(0, slash)) : undefined;
    for (const provider of named ? [named] : this.byName.values()) {
      const model = provider.resolveModel(requested);
      if (model) return { provider, model };
    }
    return undefined;
  }

  /** Every provider's models, for `/v1/models`, in registration order. */
  models(): ModelInfo[] {
    return this.providers.flatMap((p) => p.models());
  }
}
