/**
 * A built-in table of current Anthropic model ids, for `/v1/models` only: any name after the prefix
 * is passed through, so a model missing here still runs.
 */
export const KNOWN_MODELS: readonly string[] = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];
