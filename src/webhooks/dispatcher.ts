import { createHmac } from 'node:crypto';
import { Agent, type Dispatcher, request } from 'undici';
import type { Logger } from '../core/logger.js';
import { nowSeconds } from '../core/process-types.js';
import type { DeadLetter, Delivery, FailedAttempt, PendingDelivery, WebhookMetrics, WebhookOutcome, WebhookStats, WebhookStore } from './ports.js';

export interface DispatcherSettings {
  /** The HMAC-SHA256 key of `x-gateway-signature`. */
  secret: string;
  /** Tries per delivery, the first included. */
  maxAttempts: number;
  /** Deadline of one try: connecting, the answer's head and its body. */
  timeoutMs: number;
  /** The wait after the first failed try; doubled after each next one, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Deliveries waiting per URL at most; beyond, the oldest goes to the dead-letter file. */
  maxPending: number;
}

export interface DispatcherOptions {
  /** The HTTP client (tests, or a proxy agent); default: an undici Agent of the dispatcher's own. */
  dispatcher?: Dispatcher;
  /** [0, 1): the jitter of the backoff. */
  random?: () => number;
  /** Told of every outcome (beside stats()). */
  metrics?: WebhookMetrics;
}

/** Connections per receiver's origin at most (one delivery is in flight per URL, so a few URLs per origin share them). */
const CONNECTIONS_PER_ORIGIN = 4;
/** How much of a failed answer's body goes into the error kept with the try. */
const EXCERPT_BYTES = 200;

const USER_AGENT = 'claude-cli-gateway-webhooks';

/** `sha256=<hex>`: the value of `x-gateway-signature` for a body. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A receiver's URL as it may be logged: its origin (the path or query of a hook URL is often its secret). */
export const logged = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
};

type Outcome = { ok: true } | { ok: false; failure: FailedAttempt; retryAfterMs?: number } | { aborted: true };

/** One receiver: its deliveries in event order, one in flight at a time. */
interface UrlQueue {
  url: string;
  items: PendingDelivery[];
  /** The delivery being posted now (never evicted). */
  current?: PendingDelivery;
  /** The running delivery loop, while there is one. */
  loop?: Promise<void>;
  /** Ends a backoff wait early (shutdown). */
  wake?: () => void;
}

/**
 * Posts deliveries, each URL's in order and one at a time, so a slow or failing receiver holds up
 * only its own. A delivery that fails is tried again after an exponential backoff with jitter (a
 * receiver's `Retry-After` is honoured, within the cap) until its tries run out; then, or when its
 * URL has too many waiting, it goes to the dead-letter file. Every step is kept in the store first,
 * so what is pending at a stop (or a crash) is posted after the next start: at least once.
 */
export class WebhookDispatcher {
  private readonly queues = new Map<string, UrlQueue>();
  /** The store's writes under way: all done before it closes. */
  private readonly writes = new Set<Promise<void>>();
  /** The store's write of a delivery's queued line, until its first try. */
  private readonly saving = new WeakMap<PendingDelivery, Promise<void>>();
  private readonly http: Dispatcher;
  private readonly ownsHttp: boolean;
  private readonly random: () => number;
  private readonly metrics?: WebhookMetrics;
  /** Aborts the tries in flight when the grace of a shutdown is over. */
  private readonly abort = new AbortController();
  private readonly counts = { delivered: 0, failed: 0, dead: 0 };
  /** No retries once set: what fails stays pending for the next start. */
  private closing = false;

  constructor(
    private readonly settings: DispatcherSettings,
    private readonly store: WebhookStore,
    private readonly log: Logger,
    opts: DispatcherOptions = {},
  ) {
    this.ownsHttp = !opts.dispatcher;
    this.http =
      opts.dispatcher ??
      new Agent({
        connections: CONNECTIONS_PER_ORIGIN,
        connect: { timeout: settings.timeoutMs },
        headersTimeout: settings.timeoutMs,
        bodyTimeout: settings.timeoutMs,
      });
    this.random = opts.random ?? Math.random;
    this.metrics = opts.metrics;
  }

  stats(): WebhookStats {
    let pending = 0;
    for (const q of this.queues.values()) pending += q.items.length;
    return { ...this.counts, pending };
  }

  /**
   * Takes back what the previous run left pending, in its order: those to URLs still configured
   * are queued as they were (their failed tries counted), the others go to the dead-letter file.
   */
  resume(backlog: readonly PendingDelivery[], configured: (url: string) => boolean): void {
    for (const d of backlog) {
      if (configured(d.url)) this.push(d);
      else void this.bury(d, 'not_configured', 'its URL is no longer configured');
    }
  }

  /** Queues a new delivery (kept in the store before it is first posted). */
  enqueue(delivery: Delivery): void {
    if (this.closing) return;
    const pending: PendingDelivery = { ...delivery, failures: [] };
    const saved = this.persist(() => this.store.queued(delivery), 'queued');
    this.push(pending, saved);
  }

  private push(d: PendingDelivery, saved?: Promise<void>): void {
    let q = this.queues.get(d.url);
    if (!q) {
      q = { url: d.url, items: [] };
      this.queues.set(d.url, q);
    }
    if (saved) this.saving.set(d, saved);
    q.items.push(d);
    if (q.items.length > this.settings.maxPending) {
      // The oldest that is not on its way: the head, unless it is being posted.
      const victim = q.items[0] === q.current ? q.items[1]! : q.items[0]!;
      q.items.splice(q.items.indexOf(victim), 1);
      void this.bury(victim, 'queue_full', `more than ${this.settings.maxPending} deliveries were waiting for this URL`);
    }
    this.kick(q);
  }

  /** Starts the queue's delivery loop unless it runs (or the dispatcher is closing). */
  private kick(q: UrlQueue): void {
    if (q.loop || q.items.length === 0 || this.closing) return;
    q.loop = this.drain(q).finally(() => {
      q.loop = undefined;
      // One pushed while the loop was ending (after its last check) starts it again.
      this.kick(q);
    });
  }

  /** Posts the queue's deliveries in order until it is empty, or the dispatcher closes. */
  private async drain(q: UrlQueue): Promise<void> {
    while (q.items.length > 0 && !this.abort.signal.aborted) {
      const d = q.items[0]!;
      // Not evicted while it is handled (a backoff wait is not handling).
      q.current = d;
      const next = await this.handle(q, d).finally(() => {
        q.current = undefined;
      });
      if (next === 'stop') return;
      if (next === 'next') continue;
      this.log.debug({ webhook: logged(q.url), delivery: d.id, attempt: d.failures.length, delay_ms: next, error: d.failures.at(-1)?.error }, 'webhook delivery failed; retrying');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, next);
        q.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      q.wake = undefined;
      if (this.closing) return;
    }
  }

  /** One try of the queue's head, and what follows: the next delivery, a wait before trying again (ms), or stop. */
  private async handle(q: UrlQueue, d: PendingDelivery): Promise<'next' | 'stop' | number> {
    // Its queued line is written before its first try.
    await this.saving.get(d);
    this.saving.delete(d);
    const outcome = await this.attempt(d);
    if ('aborted' in outcome) return 'stop';
    if (outcome.ok) {
      q.items.splice(q.items.indexOf(d), 1);
      this.counts.delivered++;
      this.count('delivered');
      await this.persist(() => this.store.delivered(d.id), 'delivered');
      return 'next';
    }
    this.counts.failed++;
    d.failures.push(outcome.failure);
    await this.persist(() => this.store.failed(d.id, outcome.failure), 'failed');
    if (d.failures.length >= this.settings.maxAttempts) {
      q.items.splice(q.items.indexOf(d), 1);
      await this.bury(d, 'attempts_exhausted', outcome.failure.error);
      return 'next';
    }
    this.count('retried');
    // Shutting down: this URL's deliveries wait for the next start.
    return this.closing ? 'stop' : this.backoff(d.failures.length, outcome.retryAfterMs);
  }

  /** The wait after the `failures`-th failed try: exponential, half of it jittered, at least the receiver's Retry-After, at most the cap. */
  private backoff(failures: number, retryAfterMs?: number): number {
    const { backoffMs, maxBackoffMs } = this.settings;
    const base = Math.min(maxBackoffMs, backoffMs * 2 ** (failures - 1));
    const jittered = base / 2 + (this.random() * base) / 2;
    return Math.round(Math.min(maxBackoffMs, Math.max(jittered, retryAfterMs ?? 0)));
  }

  /** One POST; never throws. */
  private async attempt(d: PendingDelivery): Promise<Outcome> {
    const { timeoutMs, secret } = this.settings;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    const at = nowSeconds();
    try {
      const res = await request(d.url, {
        method: 'POST',
        dispatcher: this.http,
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'x-gateway-event': d.event_type,
          'x-gateway-delivery': d.id,
          'x-gateway-signature': signature(secret, d.body),
          'x-gateway-attempt': String(d.failures.length + 1),
        },
        body: d.body,
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        // Read to the end, so the connection is kept for the next delivery.
        await res.body.dump().catch(() => undefined);
        return { ok: true };
      }
      const excerpt = await readExcerpt(res.body);
      return {
        ok: false,
        failure: { at, status: res.statusCode, error: `HTTP ${res.statusCode}${excerpt ? `: ${excerpt}` : ''}` },
        retryAfterMs: retryAfter(res.headers['retry-after']),
      };
    } catch (err) {
      if (this.abort.signal.aborted) return { aborted: true };
      return { ok: false, failure: { at, error: describe(err, signal, timeoutMs) } };
    }
  }

  /** Gives a delivery up: the dead-letter file, the count, a warning. */
  private async bury(d: PendingDelivery, reason: DeadLetter['reason'], lastError: string): Promise<void> {
    this.counts.dead++;
    this.count('dead_lettered');
    this.log.warn(
      { webhook: logged(d.url), delivery: d.id, event: d.event_type, process_id: d.process_id, attempts: d.failures.length, reason, error: lastError },
      'webhook delivery given up: kept in the dead-letter file',
    );
    const letter: DeadLetter = { ...d, dead_at: nowSeconds(), reason, last_error: lastError };
    // After its queued line (one pushed out at once may not have it yet).
    const saved = this.saving.get(d);
    this.saving.delete(d);
    await this.persist(async () => {
      await saved;
      await this.store.dead(letter);
    }, 'dead');
  }

  /** The metrics adapter's count; its failure is not the delivery's. */
  private count(outcome: WebhookOutcome): void {
    try {
      this.metrics?.webhookDelivery(outcome);
    } catch (err) {
      this.log.warn({ err }, 'webhook metrics could not be counted');
    }
  }

  /** A store call whose failure is logged: delivery goes on (a crash may then post a delivery twice, never lose it silently). */
  private persist(call: () => Promise<void>, step: string): Promise<void> {
    const write = call().catch((err: unknown) => this.log.error({ err, step }, 'the webhook queue could not be written'));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  /**
   * Stops retrying and posts what it can within `graceMs` (each URL's deliveries in order, until
   * one fails); then aborts what is in flight. Whatever is left stays in the store for the next start.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const q of this.queues.values()) q.wake?.();
    const loops = () => Promise.all([...this.queues.values()].map((q) => q.loop));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([loops(), graceOver]);
    clearTimeout(timer);
    this.abort.abort();
    await loops();
    await Promise.all(this.writes);
    if (this.ownsHttp) await this.http.destroy().catch(() => undefined);
    await this.store.close();
  }
}

/** The first bytes of a failed answer, as one line of text; the rest is not read. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= EXCERPT_BYTES) break;
    }
  } catch {
    // the body failed or timed out: the status says enough
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks)
    .subarray(0, EXCERPT_BYTES)
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .replace(/\uFFFD+$/, '')
    .trim();
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function describe(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (signal.aborted || e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timed out after ${timeoutMs} ms`;
  }
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
