// The response cache: the memory store (TTL, LRU by bytes) and the request key.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../providers/types.js';
import type { CachedAnswer } from '../../src/core/ports.js';
import { MemoryResponseCache, cacheKey, canonicalJson } from '../../src/core/response-cache.js';
import { chatRequest, fn, user } from './chat-request.js';

const answer = (text: string): CachedAnswer => ({
  target: 'anthropic/claude-sonnet-4-5',
  result: {
    text,
    finishReason: 'stop',
    usage: { inputTokens: 3, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 },
    raw: { id: 'msg_1' },
  },
  costUsd: 0.001,
});

/** What one entry of `answer(text)` under `key` counts against maxBytes. */
const sizeOf = (key: string, text: string) => Buffer.byteLength(JSON.stringify(answer(text))) + Buffer.byteLength(key);

const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('the memory response cache', () => {
  it('answers what was kept, and misses what was not', async () => {
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: 10_000 });
    expect(await cache.get('k1')).toBeUndefined();
    await cache.set('k1', answer('one'));
    expect(await cache.get('k1')).toEqual(answer('one'));
    expect(await cache.get('k2')).toBeUndefined();
    // A later set replaces, and the bytes count it once.
    await cache.set('k1', answer('two'));
    expect(await cache.get('k1')).toEqual(answer('two'));
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(sizeOf('k1', 'two'));
  });

  it('hands out copies: a caller changing a hit does not change the kept answer', async () => {
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: 10_000 });
    await cache.set('k', answer('one'));
    const hit = (await cache.get('k'))!;
    hit.result.text = 'changed';
    expect((await cache.get('k'))!.result.text).toBe('one');
  });

  it('expires an entry ttlMs after it was kept, hits or not', async () => {
    const c = clock();
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: 10_000, now: c.now });
    await cache.set('k', answer('one'));
    c.advance(999);
    expect(await cache.get('k')).toEqual(answer('one'));
    c.advance(1);
    expect(await cache.get('k')).toBeUndefined();
    // Met expired, it was dropped.
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('evicts the least recently used, not the oldest kept, to stay within maxBytes', async () => {
    const one = sizeOf('a', 'x');
    const cache = new MemoryResponseCache({ ttlMs: 60_000, maxBytes: 3 * one });
    for (const k of ['a', 'b', 'c']) await cache.set(k, answer('x'));
    expect(cache.bytes).toBe(3 * one);
    await cache.get('a'); // a is now the most recently used: b the least
    await cache.set('d', answer('x'));
    expect(await cache.get('b')).toBeUndefined();
    for (const k of ['a', 'c', 'd']) expect(await cache.get(k)).toEqual(answer('x'));
    expect(cache.bytes).toBe(3 * one);

    // A larger one evicts as many as it needs, least recently used first (now a, c, d in that order).
    await cache.set('e', answer('x'.repeat(one + 1)));
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('c')).toBeUndefined();
    expect(await cache.get('d')).toEqual(answer('x'));
    expect(cache.bytes).toBeLessThanOrEqual(3 * one);
  });

  it('drops expired entries before evicting a live one, however recently they were used', async () => {
    const c = clock();
    const one = sizeOf('a', 'x');
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: 2 * one, now: c.now });
    await cache.set('a', answer('x'));
    c.advance(500);
    await cache.set('b', answer('x'));
    c.advance(400);
    expect(await cache.get('a')).toBeDefined(); // a most recently used, b least
    c.advance(200); // a expired, b not
    await cache.set('c', answer('x'));
    expect(await cache.get('b')).toEqual(answer('x'));
    expect(await cache.get('c')).toEqual(answer('x'));
    expect(cache.size).toBe(2);
  });

  it('does not keep an entry larger than maxBytes, nor the one it was to replace', async () => {
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: sizeOf('k', 'small') + 10 });
    await cache.set('k', answer('small'));
    await cache.set('other', answer('y'.repeat(1000)));
    expect(await cache.get('other')).toBeUndefined();
    expect(await cache.get('k')).toEqual(answer('small')); // nothing was evicted for it
    await cache.set('k', answer('y'.repeat(1000)));
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('counts bytes, not characters', async () => {
    const cache = new MemoryResponseCache({ ttlMs: 1000, maxBytes: 10_000 });
    await cache.set('k', answer('é€😀'));
    expect(cache.bytes).toBe(sizeOf('k', 'é€😀'));
    expect(cache.bytes).toBeGreaterThan(JSON.stringify(answer('é€😀')).length + 1);
  });

  it('refuses bounds that would keep nothing', () => {
    expect(() => new MemoryResponseCache({ ttlMs: 0, maxBytes: 1 })).toThrow(RangeError);
    expect(() => new MemoryResponseCache({ ttlMs: 1, maxBytes: -1 })).toThrow(RangeError);
    expect(() => new MemoryResponseCache({ ttlMs: Number.NaN, maxBytes: 1 })).toThrow(RangeError);
  });
});

describe('the cache key', () => {
  const base = chatRequest('claude-sonnet-4-5');

  it('is a sha256 in hex, the same for the same request', () => {
    const key = cacheKey('smart', base);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey('smart', chatRequest('claude-sonnet-4-5'))).toBe(key);
  });

  it('does not depend on the order of object keys, nor on members left undefined', () => {
    const reordered = {
      stream: false,
      session: { kind: 'new' as const },
      sampling: { maxTokens: 100, temperature: 0.2 },
      parallelToolCalls: true,
      toolChoice: 'auto' as const,
      permissions: { deny: [], allow: [] },
      tools: [{ parameters: { type: 'object', properties: { b: { type: 'string' }, a: { type: 'number' } } }, name: 'f' }],
      messages: [{ content: [{ text: 'hi', type: 'text' as const }], role: 'user' as const }],
      model: 'claude-sonnet-4-5',
      responseFormat: undefined,
    };
    const ordered = chatRequest('claude-sonnet-4-5', {
      sampling: { temperature: 0.2, maxTokens: 100, stop: undefined },
      tools: [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'string' } } } }],
    });
    expect(cacheKey('smart', reordered)).toBe(cacheKey('smart', ordered));
  });

  it('differs with the requested model, the messages, the tools, the sampling and the rest of what shapes the answer', () => {
    const key = cacheKey('smart', base);
    const variants = [
      cacheKey('claude-cli/sonnet', base),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { messages: [user('hello')] })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { tools: [fn('f')] })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { tools: [fn('g')] })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { sampling: { temperature: 0 } })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { sampling: { maxTokens: 10 } })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { toolChoice: 'none' })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { toolChoice: { name: 'f' } })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { parallelToolCalls: false })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { maxTurns: 3 })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { permissions: { allow: [], deny: ['Bash'] } })),
      cacheKey('smart', chatRequest('claude-sonnet-4-5', { responseFormat: { type: 'json_schema', schema: { type: 'object' } } })),
    ];
    expect(new Set([key, ...variants]).size).toBe(variants.length + 1);
  });

  it('keys the model the client asked for, not the target it resolved to', () => {
    expect(cacheKey('smart', chatRequest('claude-sonnet-4-5'))).toBe(cacheKey('smart', chatRequest('sonnet')));
  });

  it('is the same streamed or not: a hit answers either', () => {
    expect(cacheKey('smart', chatRequest('m', { stream: true }))).toBe(cacheKey('smart', chatRequest('m', { stream: false })));
  });

  it('keys a passthrough record when there is one', () => {
    const withPassthrough = (passthrough: ChatRequest['passthrough']) => chatRequest('m', { passthrough });
    const plain = cacheKey('smart', chatRequest('m'));
    expect(cacheKey('smart', withPassthrough(undefined))).toBe(plain);
    expect(cacheKey('smart', withPassthrough({ top_p: 0.5 }))).not.toBe(plain);
    expect(cacheKey('smart', withPassthrough({ top_p: 0.5 }))).not.toBe(cacheKey('smart', withPassthrough({ top_p: 0.6 })));
  });

  it('is undefined for a request with state: a session continued or forked, built-in tools enabled', () => {
    expect(cacheKey('smart', chatRequest('m', { session: { kind: 'continue', sessionId: 's1' } }))).toBeUndefined();
    expect(cacheKey('smart', chatRequest('m', { session: { kind: 'fork', sessionId: 's1' } }))).toBeUndefined();
    expect(cacheKey('smart', chatRequest('m', { permissions: { allow: ['Bash(git *)'], deny: [] } }))).toBeUndefined();
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined members, and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: undefined }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"y":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, 'é'])).toBe('[null,"é"]');
  });
});
