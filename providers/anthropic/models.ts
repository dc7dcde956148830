import type { ModelInfo } from '../types.js';

export const MODEL_PREFIX = 'anthropic/';

/**
 * A built-in table of current Anthropic model ids, for `/v1/models` only: any name after the prefix
 * is passed through, so a model missing here still runs.
 */
const KNOWN_MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'] as const;

/** Printable, no spaces, bounded: the name goes into the upstream request as it is. */
const MODEL_NAME = /^[\x21-\x7e]{1,200}$/;

/** `anthropic/<model>` → `<model>`. */
export function resolveModel(requested: string): string | undefined {
  if (!requested.startsWith(MODEL_PREFIX)) return undefined;
  const name = requested.slice(MODEL_PREFIX.length);
  return MODEL_NAME.test(name) ? name : undefined;
}

export function listModels(): ModelInfo[] {
  return KNOWN_MODELS.map((id) => ({ id: `${MODEL_PREFIX}${id}`, ownedBy: 'anthropic' }));
}
