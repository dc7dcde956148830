import { type LevelWithSilent, type Logger as PinoLogger, pino } from 'pino';

const REDACTED = '[redacted]';

/**
 * Query parameters whose values are ids, numbers or names, never credentials. Every other value is
 * logged as `[redacted]`: a key sent as `?api_key=` (the WebSocket's browser path) or under a
 * mistyped name (`?apikey=`, `?token=`) must not reach the log.
 */
const SAFE_PARAMS: ReadonlySet<string> = new Set([
  'process_id',
  'session_id',
  'key_id',
  'types',
  'since',
  'status',
  'limit',
  'after',
  'purge',
  'stream',
  'starting_after',
  'group_by',
  'from',
  'to',
]);
/** What a safe parameter's value may look like to be logged as it is (no escapes, no separators). */
const PLAIN_VALUE = /^[\w.,:-]*$/;

/** Headers that carry credentials, censored wherever a log line holds request headers. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key', 'cookie'];

function redactParam(param: string): string {
  const eq = param.indexOf('=');
  // A bare `?<something>` could be the key itself.
  if (eq < 0) return param && REDACTED;
  const name = param.slice(0, eq);
  return SAFE_PARAMS.has(name) && PLAIN_VALUE.test(param.slice(eq + 1)) ? param : `${name}=${REDACTED}`;
}

/**
 * A request target fit for the log: the path as sent, query parameter names kept, values redacted
 * but for the safe ones, the fragment and any `user:password@` of an absolute-form target replaced.
 */
export function redactUrl(url: string): string {
  const withoutUserinfo = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, `$1${REDACTED}@`);
  const [, path = '', query, fragment] = /^([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(withoutUserinfo)!;
  return (
    path +
    (query === undefined ? '' : `?${query.split('&').map(redactParam).join('&')}`) +
    (fragment === undefined ? '' : `#${fragment && REDACTED}`)
  );
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remoteAddress?: string; remotePort?: number };
}

/** Fastify's request line, with the URL redacted; works for its requests and for raw Node ones. */
function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactUrl(req.url),
    host: req.host ?? req.headers?.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

/** The gateway's logger: JSON lines on stdout, with nothing a client presented as a secret in them. */
export function createLogger(level: LevelWithSilent, format?: 'pretty' | 'json'): PinoLogger {
  // Readable on a terminal, JSON lines for log collectors (and whenever asked).
  const pretty = level !== 'silent' && (format === 'pretty' || (format === undefined && process.stdout.isTTY === true));
  return pino({
    level,
    serializers: { req: serializeRequest },
    // The request line above has no headers; this covers any other line that logs them.
    redact: { paths: SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]), censor: REDACTED },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
