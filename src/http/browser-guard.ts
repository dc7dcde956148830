import { isIP } from 'node:net';
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ForbiddenError } from '../core/errors.js';

type BrowserPolicy = Pick<Config, 'host' | 'allowedHosts' | 'allowedOrigins'>;

/** Headers a cross-origin page may read from answers (when ALLOWED_ORIGINS lets it in). */
const EXPOSED_HEADERS = ['x-session-id', 'x-process-id', 'retry-after'];

const parse = (url: string) => (URL.canParse(url) ? new URL(url) : undefined);

/** The hostname of a `host[:port]` value (Host header, absolute-form authority); undefined when it is not one. */
function hostnameOf(authority: string): string | undefined {
  const u = parse(`http://${authority}`);
  const bare = u && !u.username && !u.password && u.pathname === '/' && !u.search && !u.hash;
  return bare ? u.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '') : undefined;
}

/**
 * Whether a Host names this gateway. DNS rebinding needs a DNS name the attacker controls, so IP
 * literals always pass (probes that use the pod IP keep working), and so do loopback names, the
 * bound HOST and ALLOWED_HOSTS (`*`: any).
 */
function servesHost(authority: string, p: BrowserPolicy): boolean {
  const name = hostnameOf(authority);
  if (name === undefined) return false;
  return (
    isIP(name) !== 0 ||
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === p.host.toLowerCase() ||
    p.allowedHosts.includes('*') ||
    p.allowedHosts.includes(name)
  );
}

/** Whether pages of `origin` may use the gateway: its own (same host:port as the request's Host) and ALLOWED_ORIGINS. */
function allowsOrigin(origin: string, host: string | undefined, p: BrowserPolicy): boolean {
  const o = parse(origin);
  // `null` (sandboxed frames, file: pages) and other schemes are never the gateway's own.
  if (!o || (o.protocol !== 'http:' && o.protocol !== 'https:')) return false;
  if (p.allowedOrigins.includes(o.origin)) return true;
  return host !== undefined && parse(`${o.protocol}//${host}`)?.host === o.host;
}

/**
 * Refuses (403) what a web page on another site could make a browser send: requests whose Host is
 * not a name the gateway answers as (DNS rebinding) and requests with a foreign Origin (cross-site
 * fetches and WebSockets). Every route, open ones included. CORS answers only for ALLOWED_ORIGINS.
 */
export async function registerBrowserGuard(app: FastifyInstance, p: BrowserPolicy): Promise<void> {
  // The few Host values a gateway sees, decided once each (parsing one is a URL parse); bounded, as
  // anyone may send any Host.
  const decided = new Map<string, boolean>();
  const serves = (host: string) => {
    let ok = decided.get(host);
    if (ok === undefined) {
      ok = servesHost(host, p);
      if (decided.size >= 256) decided.clear();
      decided.set(host, ok);
    }
    return ok;
  };
  app.addHook('onRequest', async (request) => {
    const { headers, url = '' } = request.raw;
    // An absolute-form target (`GET http://host/path HTTP/1.1`) names a host too, and routes like any other.
    const target = url.startsWith('/') ? undefined : parse(url)?.host || undefined;
    for (const host of [headers.host, target]) {
      if (host !== undefined && !serves(host)) {
        throw new ForbiddenError(`this gateway does not answer as host ${JSON.stringify(host)} (see ALLOWED_HOSTS)`, 'forbidden_host');
      }
    }
    // Version 8 WebSocket clients name their page in Sec-WebSocket-Origin instead of Origin.
    for (const origin of [headers.origin, headers['sec-websocket-origin']]) {
      if (typeof origin === 'string' && !allowsOrigin(origin, headers.host, p)) {
        throw new ForbiddenError(`requests from pages of ${JSON.stringify(origin)} are refused (see ALLOWED_ORIGINS)`, 'forbidden_origin');
      }
    }
  });
  if (p.allowedOrigins.length === 0) return;
  // Registered before auth: its hook answers preflights, which never carry the key.
  await app.register(cors, {
    // Anything but a listed origin gets no CORS at all; a plain OPTIONS then goes on to routing
    // (an OpenAI-shaped 404/405) rather than to the plugin's text/plain 400.
    origin: (origin, cb) => cb(null, origin !== undefined && p.allowedOrigins.includes(origin)),
    strictPreflight: false,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
}
