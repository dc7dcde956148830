import type { ModelInfo } from '../types.js';

export const MODEL_PREFIX = 'claude-cli/';
export const MODEL_ALIASES = ['opus', 'sonnet', 'haiku'] as const;

// Full model ids as Anthropic names them (`claude-sonnet-4-5`, `claude-3-5-haiku-20241022`,
// `claude-sonnet-4-5[1m]`): a strict pattern, since the name becomes a CLI argument.
const FULL_NAME = /^claude-[a-z0-9]+(?:[.-][a-z0-9]+)*(?:\[1m\])?$/;

/** `claude-cli/<x>`, a bare alias, or a full `claude-…` name → the CLI's `--model` value. */
export function resolveModel(requested: string): string | undefined {
  const name = requested.startsWith(MODEL_PREFIX) ? requested.slice(MODEL_PREFIX.length) : requested;
  if ((MODEL_ALIASES as readonly string[]).includes(name)) return name;
  return name.length <= 100 && FULL_NAME.test(name) ? name : undefined;
}

export function listModels(): ModelInfo[] {
  return MODEL_ALIASES.map((alias) => ({ id: `${MODEL_PREFIX}${alias}`, ownedBy: 'anthropic' }));
}
