// Model name → provider (providers/registry.ts): which provider serves a requested model and under
// which of its own names, the models /v1/models lists, and names nobody serves. The Claude CLI's
// naming is its own (providers/claude-cli/models.ts); stand-in providers stand for the others.
import { describe, expect, it } from 'vitest';
import { listModels, resolveModel } from '../../providers/claude-cli/models.js';
import { ProviderRegistry } from '../../providers/registry.js';
import type { ModelInfo, Provider } from '../../providers/types.js';
import { thrown } from './thrown.js';

/** A provider that only names and lists models: nothing else of it is called here. */
function stub(name: string, resolve: (requested: string) => string | undefined, models: ModelInfo[] = []): Provider {
  const unused = () => {
    throw new Error(`${name}: not called when resolving models`);
  };
  return { name, capabilities: {}, models: () => models, resolveModel: resolve, prepare: unused, run: unused, hasSession: unused, check: unused };
}

/** The Claude CLI's naming, as the CLI provider has it. */
const cli = () => stub('claude-cli', resolveModel, listModels());
/** A provider with its own prefix that also takes one bare name. */
function local(): Provider {
  const resolve = (r: string) => {
    if (r === 'llama') return 'llama-3';
    return r.startsWith('local/') ? r.slice('local/'.length) || undefined : undefined;
  };
  return stub('local', resolve, [{ id: 'local/llama-3', ownedBy: 'local' }]);
}
/** A provider that claims every name offered to it. */
const greedy = () => stub('greedy', (r) => `greedy:${r}`);

const target = (registry: ProviderRegistry, requested: string) => {
  const t = registry.resolve(requested);
  return t && { provider: t.provider.name, model: t.model };
};

describe('the Claude CLI alone (as the gateway runs today)', () => {
  const registry = new ProviderRegistry([cli()]);

  it.each([
    ['claude-cli/sonnet', 'sonnet'],
    ['claude-cli/opus', 'opus'],
    ['claude-cli/haiku', 'haiku'],
    ['sonnet', 'sonnet'],
    ['opus', 'opus'],
    ['haiku', 'haiku'],
    ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku-20241022'],
    ['claude-sonnet-4-5[1m]', 'claude-sonnet-4-5[1m]'],
    ['claude-cli/claude-opus-4-1', 'claude-opus-4-1'],
  ])('%s → claude-cli, %s', (requested, model) => {
    expect(target(registry, requested)).toEqual({ provider: 'claude-cli', model });
  });

  it.each([
    'gpt-4o',
    '',
    'Sonnet',
    'claude-cli/',
    'claude-cli/gpt-4o',
    'claude-cli/claude-cli/sonnet',
    'anthropic/claude-sonnet-4-5',
    'local/sonnet',
    '/sonnet',
    'claude-',
    'claude-sonnet-4-5 --dangerously-skip-permissions',
    `claude-${'a'.repeat(100)}`,
  ])('%j → served by none', (requested) => {
    expect(registry.resolve(requested)).toBeUndefined();
  });

  it('lists the CLI aliases, as /v1/models shows them', () => {
    expect(registry.models()).toEqual([
      { id: 'claude-cli/opus', ownedBy: 'anthropic' },
      { id: 'claude-cli/sonnet', ownedBy: 'anthropic' },
      { id: 'claude-cli/haiku', ownedBy: 'anthropic' },
    ]);
  });

  it('holds the provider by name', () => {
    expect(registry.get('claude-cli')?.name).toBe('claude-cli');
    expect(registry.get('anthropic')).toBeUndefined();
    expect(registry.providers.map((p) => p.name)).toEqual(['claude-cli']);
  });
});

describe('several providers', () => {
  it('gives `<provider>/<model>` to that provider alone', () => {
    const registry = new ProviderRegistry([greedy(), cli(), local()]);
    expect(target(registry, 'claude-cli/sonnet')).toEqual({ provider: 'claude-cli', model: 'sonnet' });
    expect(target(registry, 'local/qwen')).toEqual({ provider: 'local', model: 'qwen' });
    // The named provider does not serve it: nobody else is asked.
    expect(registry.resolve('claude-cli/gpt-4o')).toBeUndefined();
    expect(registry.resolve('local/')).toBeUndefined();
  });

  it('offers any other name to the providers in registration order', () => {
    const registry = new ProviderRegistry([cli(), local(), greedy()]);
    expect(target(registry, 'sonnet')).toEqual({ provider: 'claude-cli', model: 'sonnet' });
    expect(target(registry, 'llama')).toEqual({ provider: 'local', model: 'llama-3' });
    expect(target(registry, 'gpt-4o')).toEqual({ provider: 'greedy', model: 'greedy:gpt-4o' });
    // A prefix that names no provider is part of the name.
    expect(target(registry, 'openai/gpt-4o')).toEqual({ provider: 'greedy', model: 'greedy:openai/gpt-4o' });
    expect(target(new ProviderRegistry([greedy(), cli()]), 'sonnet')).toEqual({ provider: 'greedy', model: 'greedy:sonnet' });
  });

  it('lists every provider’s models, in registration order', () => {
    const registry = new ProviderRegistry([cli(), greedy(), local()]);
    expect(registry.models().map((m) => m.id)).toEqual(['claude-cli/opus', 'claude-cli/sonnet', 'claude-cli/haiku', 'local/llama-3']);
    expect(registry.providers.map((p) => p.name)).toEqual(['claude-cli', 'greedy', 'local']);
  });

  it('refuses two providers of one name', () => {
    expect(thrown(() => new ProviderRegistry([cli(), local(), cli()]))).toMatchObject({ message: "two providers are named 'claude-cli'" });
  });

  it('serves nothing without providers', () => {
    const registry = new ProviderRegistry([]);
    expect(registry.resolve('sonnet')).toBeUndefined();
    expect(registry.models()).toEqual([]);
  });
});
