import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { AuthenticationError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key (probes, docs). Every other route, unmatched paths included, needs one. */
    public?: boolean;
    /** The key may also come as `?api_key=`: browsers cannot set headers on a WebSocket handshake. */
    apiKeyInQuery?: boolean;
  }
}

/** An onRoute hook that opens every route of its scope, for plugins whose routes we do not declare (swagger-ui). */
export function markPublic(route: RouteOptions): void {
  route.config = { ...route.config, public: true };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Keys from a file: one per line; blank lines and `#` comments are skipped. */
export function readKeyFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * The gateway's API keys: from GATEWAY_API_KEYS and GATEWAY_API_KEYS_FILE; the file is read again
 * on reload (SIGHUP). Compared in constant time: hashing first makes every comparison the same length.
 */
export class KeyRing {
  private digests: Buffer[] = [];

  constructor(
    private readonly keys: readonly string[],
    private readonly file?: string,
  ) {
    this.reload();
  }

  /** Whether keys are required at all (a key file that is empty still locks everything). */
  get enabled(): boolean {
    return this.keys.length > 0 || this.file !== undefined;
  }

  /** Re-reads the key file; throws (keeping the old keys) when it cannot be read. */
  reload(): number {
    const all = [...this.keys, ...(this.file ? readKeyFile(this.file) : [])];
    this.digests = all.map(digest);
    return all.length;
  }

  matches(candidate: string): boolean {
    const d = digest(candidate);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  }
}

function presentedKey(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m?.[1]?.trim();
  }
  if (allowQuery) {
    const q = (request.query as Record<string, unknown> | undefined)?.api_key;
    return typeof q === 'string' ? q : undefined;
  }
  return undefined;
}

/** With keys configured, every route but the public ones needs `Authorization: Bearer <key>`. */
export function registerAuth(app: FastifyInstance, ring: KeyRing): void {
  if (!ring.enabled) return;
  app.addHook('onRequest', async (request) => {
    // Decided by the route the router matched, never by the raw URL: the router decodes
    // percent-escapes and absolute-form targets that a test of the URL's text would let through.
    const { config } = request.routeOptions;
    if (config.public) return;
    const key = presentedKey(request, config.apiKeyInQuery === true);
    if (!key) throw new AuthenticationError('missing API key: send Authorization: Bearer <key>', 'missing_api_key');
    if (!ring.matches(key)) throw new AuthenticationError('invalid API key');
  });
}
