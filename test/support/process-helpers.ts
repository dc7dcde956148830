// Helpers shared by the streaming, processes, events and faults tests: polling, finding the CLI
// processes a run started (via /proc), JSON over plain fetch, and a WebSocket event collector.
import { readFileSync, readdirSync } from 'node:fs';
import WebSocket from 'ws';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A chat-completions body with one user message (and any other fields). */
export const completion = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'sonnet',
  messages: [{ role: 'user', content }],
  ...extra,
});

/** Polls `fn` until it returns a truthy value (which is returned) or the timeout passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 25);
  }
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." — comm may contain spaces/parens, the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function readProc(pid: string, file: 'cmdline' | 'environ'): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Live processes (not zombies, not this one) whose command line or environment contains
 * `needle`: e.g. a run's `--session-id=<uuid>`, or a test gateway's temporary directory (the CLI
 * gets CLAUDE_CONFIG_DIR under it, and so does everything it starts).
 */
export function processesMatching(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (!readProc(entry, 'cmdline').includes(needle) && !readProc(entry, 'environ').includes(needle)) continue;
    if (isAlive(Number(entry))) out.push(Number(entry));
  }
  return out;
}

export function readPidFile(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Best-effort cleanup of a process (group) a test left behind. */
export function killQuietly(pid: number | undefined, group = false): void {
  if (!pid) return;
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Plain fetch with a JSON body in and out. */
export async function fetchJson<T = any>(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** GETs /v1/processes/:id until its status is one of `statuses`; returns the record. */
export async function waitForStatus(
  baseUrl: string,
  id: string,
  statuses: string[],
  timeoutMs = 10_000,
  headers?: Record<string, string>,
): Promise<any> {
  return waitFor(
    async () => {
      const r = await fetchJson(`${baseUrl}/v1/processes/${id}`, { headers });
      return r.status === 200 && statuses.includes(r.body.status) ? r.body : undefined;
    },
    { timeoutMs, what: `process ${id} to become ${statuses.join('|')}` },
  );
}

/** A `ws` subscriber that keeps every JSON message it receives. */
export interface EventSocket {
  ws: WebSocket;
  events: any[];
  /** Resolves with the first received event matching `pred` (already received ones count). */
  next(pred: (e: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export function wsUrl(httpUrl: string, query: Record<string, string | number> = {}): string {
  const u = new URL('/v1/events', httpUrl.replace(/^http/, 'ws'));
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
  return u.toString();
}

/** Opens a subscription; rejects with the HTTP status if the upgrade is refused. */
export function openEvents(
  httpUrl: string,
  query: Record<string, string | number> = {},
  headers: Record<string, string> = {},
): Promise<EventSocket> {
  const ws = new WebSocket(wsUrl(httpUrl, query), { headers });
  const events: any[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    events.push(JSON.parse(data.toString()));
    for (const w of waiters) w();
  });
  const sock: EventSocket = {
    ws,
    events,
    next(pred, timeoutMs = 10_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = events.find(pred);
          if (!e) return;
          cleanup();
          resolve(e);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.type))}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
    close() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1_000).unref();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(sock));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      const fail = () => {
        reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode, body }));
        ws.terminate();
      };
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.once('end', fail);
      res.once('error', fail);
    });
    // later errors (after terminate) must not go unhandled; the first one rejects
    ws.on('error', reject);
  });
}

/** The Authorization header of a key. */
export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** A client of one gateway (read when used: gateways start in beforeAll) that sends the same headers every time. */
export function apiClient(gw: () => { url: string }, headers: Record<string, string> = {}) {
  return {
    chat: (content: string, extra: Record<string, unknown> = {}) =>
      fetchJson(`${gw().url}/v1/chat/completions`, { body: completion(content, extra), headers }),
    get: (p: string) => fetchJson(`${gw().url}${p}`, { headers }),
    del: (p: string) => fetchJson(`${gw().url}${p}`, { method: 'DELETE', headers }),
  };
}
