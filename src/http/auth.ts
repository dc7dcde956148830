import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { AuthenticationError } from '../core/errors.js';
import { type ConfigKey, type HeldKey, KeyConfigError, type KeyEntry, keyEntrySchema, keyTable, matchKey } from '../core/keys.js';
import { ANONYMOUS, type Principal } from '../core/ownership.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key (probes, docs). Every other route, unmatched paths included, needs one. */
    public?: boolean;
    /** The key may also come as `?api_key=`: browsers cannot set headers on a WebSocket handshake. */
    apiKeyInQuery?: boolean;
  }
  interface FastifyRequest {
    /** Whom the request acts for; set on every request by the auth hook. */
    principal: Principal;
  }
}

/** An onRoute hook that opens every route of its scope, for plugins whose routes we do not declare (swagger-ui). */
export function markPublic(route: RouteOptions): void {
  route.config = { ...route.config, public: true };
}

/** Keys from a file: one entry per line (`secret` or `id:secret`); blank lines and `#` comments are skipped. */
export function readKeyFile(file: string): KeyEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const l = line.trim();
      if (!l || l.startsWith('#')) return [];
      const parsed = keyEntrySchema.safeParse(l);
      if (!parsed.success) throw new KeyConfigError(`${file} line ${i + 1}: ${parsed.error.issues[0]!.message}`);
      return [parsed.data];
    });
}

/**
 * The gateway's API keys: GATEWAY_API_KEYS and GATEWAY_ADMIN_KEYS, plus GATEWAY_API_KEYS_FILE,
 * which is read again on reload (SIGHUP), plus the `keys:` of GATEWAY_CONFIG (`config`), which a
 * reload may replace.
 */
export class KeyRing {
  private table: HeldKey[] = [];
  private configKeys: readonly ConfigKey[];
  private locked: boolean;

  constructor(
    private readonly keys: { api: readonly KeyEntry[]; admin: readonly KeyEntry[]; config?: readonly ConfigKey[] },
    private readonly file?: string,
  ) {
    this.configKeys = keys.config ?? [];
    this.locked = keys.api.length > 0 || keys.admin.length > 0 || file !== undefined || this.configKeys.length > 0;
    this.reload();
  }

  /**
   * Whether keys are required at all (a key file that is empty still locks everything). Once
   * locked, always locked: a reload that leaves no key locks everything out rather than opening up.
   */
  get enabled(): boolean {
    return this.locked;
  }

  /**
   * Re-reads the key file and, when `configKeys` is given, replaces GATEWAY_CONFIG's keys with
   * them; throws (keeping the old keys, all of them) when anything cannot be read or used. Returns
   * the number of keys.
   */
  reload(configKeys?: readonly ConfigKey[]): number {
    const config = configKeys ?? this.configKeys;
    const table = keyTable([...this.keys.api, ...(this.file ? readKeyFile(this.file) : [])], this.keys.admin, config);
    this.table = table;
    this.configKeys = config;
    if (config.length > 0) this.locked = true;
    return table.length;
  }

  /** Whom a presented key stands for (with its policy, for a GATEWAY_CONFIG key); undefined when it is none of the keys. */
  match(candidate: string): Principal | undefined {
    return matchKey(this.table, candidate);
  }
}

function presentedKey(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m?.[1]?.trim();
  }
  // Anthropic's clients (its SDK, Claude Code) send the key as `x-api-key`.
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  if (allowQuery) {
    const q = (request.query as Record<string, unknown> | undefined)?.api_key;
    return typeof q === 'string' ? q : undefined;
  }
  return undefined;
}

/** An open route's request, with keys on, acts for no key: it sees nothing that is owned. */
const NO_KEY: Principal = Object.freeze({ keyId: null, admin: false });

/**
 * With keys configured, every route but the public ones needs `Authorization: Bearer <key>` (or
 * `x-api-key: <key>`), and
 * the request acts for that key. Without keys, every request acts for the one anonymous user.
 */
export function registerAuth(app: FastifyInstance, ring: KeyRing): void {
  app.decorateRequest('principal');
  app.addHook('onRequest', async (request, reply) => {
    if (!ring.enabled) {
      request.principal = ANONYMOUS;
      return;
    }
    // Decided by the route the router matched, never by the raw URL: the router decodes
    // percent-escapes and absolute-form targets that a test of the URL's text would let through.
    const { config } = request.routeOptions;
    if (config.public) {
      request.principal = NO_KEY;
      return;
    }
    const key = presentedKey(request, config.apiKeyInQuery === true);
    if (!key) throw new AuthenticationError('missing API key: send Authorization: Bearer <key> (or x-api-key: <key>)', 'missing_api_key');
    const principal = ring.match(key);
    if (!principal) throw new AuthenticationError('invalid API key');
    request.principal = principal;
    // The request's own lines (and Fastify's "request completed") name the key by its id.
    request.log = reply.log = request.log.child({ key_id: principal.keyId });
  });
}
