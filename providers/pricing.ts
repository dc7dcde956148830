import type { TokenUsage } from './types.js';

/** USD per million tokens, cache reads and writes priced apart. */
export interface TokenPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** What a run with this usage cost in USD at this price. */
export function costOf(price: TokenPrice, usage: TokenUsage): number {
  const millionths =
    usage.inputTokens * price.input +
    usage.outputTokens * price.output +
    usage.cacheReadTokens * price.cacheRead +
    usage.cacheCreationTokens * price.cacheWrite;
  return millionths / 1e6;
}
