import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthenticationError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares against every key in constant time (hashing first makes the lengths equal). */
export function keyMatcher(keys: readonly string[]): (candidate: string) => boolean {
  const digests = keys.map(digest);
  return (candidate) => {
    const d = digest(candidate);
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  };
}

function presentedKey(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m?.[1]?.trim();
  }
  // Browsers cannot set headers on a WebSocket handshake: the events route takes ?api_key= too.
  if (allowQuery) {
    const q = (request.query as Record<string, unknown> | undefined)?.api_key;
    return typeof q === 'string' ? q : undefined;
  }
  return undefined;
}

/** With GATEWAY_API_KEYS set, every `/v1` route needs `Authorization: Bearer <key>`. */
export function registerAuth(app: FastifyInstance, keys: readonly string[]): void {
  if (keys.length === 0) return;
  const matches = keyMatcher(keys);
  app.addHook('onRequest', async (request) => {
    const url = request.url;
    if (!(url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?'))) return;
    const key = presentedKey(request, url.startsWith('/v1/events'));
    if (!key) throw new AuthenticationError('missing API key: send Authorization: Bearer <key>', 'missing_api_key');
    if (!matches(key)) throw new AuthenticationError('invalid API key');
  });
}
