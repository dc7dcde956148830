import { type TokenPrice as Price, costOf } from '../pricing.js';
import type { TokenUsage } from '../types.js';

// USD per million tokens; cache writes at the 5-minute rate (the gateway's breakpoints are `ephemeral`).

const SONNET_4: Price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
const OPUS_4: Price = { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 };

/** Anthropic's published prices by model id (without a date suffix). A model missing here has no cost, never a guessed one. */
const PRICES: Record<string, Price> = {
  'claude-sonnet-4-5': SONNET_4,
  'claude-sonnet-4-0': SONNET_4,
  'claude-sonnet-4': SONNET_4,
  'claude-3-7-sonnet': SONNET_4,
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-1': OPUS_4,
  'claude-opus-4-0': OPUS_4,
  'claude-opus-4': OPUS_4,
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
};

/** `claude-sonnet-4-5-20250929` and `claude-3-7-sonnet-latest` cost what their model does. */
const VERSION_SUFFIX = /-(?:\d{8}|latest)$/;

/** What a run of `model` with this usage cost in USD, or null when the model's price is unknown. */
export function costUsd(model: string, usage: TokenUsage): number | null {
  const price = PRICES[model.replace(VERSION_SUFFIX, '')];
  return price ? costOf(price, usage) : null;
}
