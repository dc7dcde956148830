import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { type Config, ConfigError } from '../config.js';
import type { Logger } from '../core/logger.js';
import type { Principal } from '../core/ownership.js';
import { type GatewayEvent, nowSeconds } from '../core/process-types.js';
import type { Gateway } from '../gateway.js';
import type { GatewayConfig } from '../gateway-config.js';
import { toEventMessage } from '../openai/records.js';
import { JsonlFiles, jsonlPath } from '../stores/jsonl/jsonl-file.js';
import { JsonlWebhookStore } from '../stores/jsonl/webhook-store.js';
import { WebhookDispatcher, logged } from './dispatcher.js';
import { type LoadedObserver, guarded, loadObservers } from './observers.js';
import type { WebhookMetrics, WebhookStats, WebhookStore } from './ports.js';

export type { WebhookStats };

/** The gateway's own view: every event of every key. */
const EVERYTHING: Principal = Object.freeze({ keyId: null, admin: true });

/**
 * Webhooks and in-process observers: the gateway's events posted to receivers (WEBHOOK_URLS get
 * every event, a key's `webhooks` in GATEWAY_CONFIG that key's) and handed to the observer modules.
 */
export interface Webhooks {
  /**
   * Follows the gateway's events: what the previous run left pending is taken back, and the events
   * published since prepareWebhooks (a process that was running at a crash, reported failed as the
   * gateway opened) are posted too.
   */
  start(gateway: Pick<Gateway, 'subscribe'>): Promise<void>;
  /** Delivery counts since start (all zero without receivers). */
  stats(): WebhookStats;
  /** Takes the keys' webhooks of a reloaded GATEWAY_CONFIG (SIGHUP). */
  reconfigure(gatewayConfig: GatewayConfig | undefined): void;
  /**
   * After the gateway has drained: stops following events, posts what it can within `graceMs`
   * (what is left stays queued for the next start), closes the observers.
   */
  close(graceMs: number): Promise<void>;
}

export interface WebhookOptions {
  /** The HTTP client of the deliveries (default: the dispatcher's own undici Agent). */
  dispatcher?: Dispatcher;
  /** Where deliveries are kept (default: JSONL files in DATA_DIR). */
  store?: WebhookStore;
  /** Told of every delivery outcome (the Prometheus adapter). */
  metrics?: WebhookMetrics;
}

/** The receivers of each key's events, from GATEWAY_CONFIG's `keys[].webhooks`. */
function keyWebhooks(gatewayConfig: GatewayConfig | undefined): Map<string, readonly string[]> {
  const byKey = new Map<string, readonly string[]>();
  for (const key of gatewayConfig?.keys ?? []) if (key.policy.webhooks?.length) byKey.set(key.id, key.policy.webhooks);
  return byKey;
}

/**
 * Checks the settings and loads the observer modules, before the gateway opens: a receiver without
 * WEBHOOK_SECRET (deliveries are always signed), or an observer that cannot be loaded, is a ConfigError.
 */
export async function prepareWebhooks(
  config: Config,
  gatewayConfig: GatewayConfig | undefined,
  log: Logger,
  opts: WebhookOptions = {},
): Promise<Webhooks> {
  const settings = config.webhooks;
  let byKey = keyWebhooks(gatewayConfig);
  if ((settings.urls.length > 0 || byKey.size > 0) && settings.secret === undefined) {
    throw new ConfigError(
      'WEBHOOK_SECRET is not set: webhook deliveries are signed with it, and WEBHOOK_URLS or keys[].webhooks in GATEWAY_CONFIG name receivers',
    );
  }
  const observers =
    gatewayConfig?.observers?.length && config.gatewayConfigFile ? await loadObservers(gatewayConfig.observers, config.gatewayConfigFile) : [];
  const types = settings.events && new Set(settings.events);
  // Events from here on are this run's: those the gateway publishes while it opens are replayed to the receivers.
  const preparedAt = nowSeconds();
  const hookLog = log.child({ component: 'webhooks' });

  let dispatcher: WebhookDispatcher | undefined;
  const unsubscribe: (() => void)[] = [];

  /** The URLs an event goes to: every WEBHOOK_URLS one, and its key's, once each. */
  const receivers = (e: GatewayEvent): Set<string> => {
    const urls = new Set<string>();
    if (types && !types.has(e.type)) return urls;
    for (const url of settings.urls) urls.add(url);
    for (const url of (e.key_id !== null && byKey.get(e.key_id)) || []) urls.add(url);
    return urls;
  };

  const post = (d: WebhookDispatcher, e: GatewayEvent) => {
    const urls = receivers(e);
    if (urls.size === 0) return;
    // The body is the event exactly as /v1/events sends it.
    const body = JSON.stringify(toEventMessage(e));
    for (const url of urls) {
      d.enqueue({ id: randomUUID(), url, event_type: e.type, seq: e.seq, process_id: e.process_id, key_id: e.key_id, body, queued_at: nowSeconds() });
    }
  };

  const observe = (observers: LoadedObserver[], e: GatewayEvent) => {
    const message = toEventMessage(e);
    for (const { name, observer } of observers) {
      // Each its own copy: an observer that changes what it got changes nothing for anyone else.
      void guarded(hookLog, name, 'onEvent', () => {
        const copy = structuredClone({ message, raw: e });
        return observer.onEvent(copy.message, copy.raw);
      });
    }
  };

  return {
    async start(gateway) {
      if (observers.length > 0) {
        unsubscribe.push(
          gateway.subscribe({ filter: {}, since: 0, principal: EVERYTHING }, (e) => {
            if (e.ts >= preparedAt) observe(observers, e);
          }),
        );
        hookLog.info({ observers: observers.map((o) => o.name) }, 'observers loaded');
      }
      if (settings.urls.length === 0 && byKey.size === 0) return;
      const store =
        opts.store ??
        new JsonlWebhookStore(
          jsonlPath(config.dataDir, 'webhooks-pending'),
          jsonlPath(config.dataDir, 'webhooks-dead'),
          new JsonlFiles({
            onCorrupt: ({ file, skipped, copy }) => hookLog.warn({ file, skipped, copy }, `skipped ${skipped} unreadable line(s) of ${file}; they are kept in ${copy}`),
          }),
        );
      const backlog = await store.open();
      const d = new WebhookDispatcher({ ...settings, secret: settings.secret! }, store, hookLog, { dispatcher: opts.dispatcher, metrics: opts.metrics });
      dispatcher = d;
      const configured = (url: string) => settings.urls.includes(url) || [...byKey.values()].some((urls) => urls.includes(url));
      d.resume(backlog, configured);
      // The retained events replayed, of which only this run's are posted: those of earlier runs were theirs to post.
      const thisRun = (e: GatewayEvent) => {
        if (e.ts >= preparedAt) post(d, e);
      };
      unsubscribe.push(gateway.subscribe({ filter: {}, since: 0, principal: EVERYTHING }, thisRun));
      hookLog.info(
        { receivers: [...new Set([...settings.urls, ...[...byKey.values()].flat()])].map(logged), resumed: backlog.length },
        'webhooks on',
      );
    },

    stats() {
      return dispatcher?.stats() ?? { delivered: 0, failed: 0, dead: 0, pending: 0 };
    },

    reconfigure(next) {
      const nextByKey = keyWebhooks(next);
      if (!dispatcher && nextByKey.size > 0) {
        hookLog.warn('keys[].webhooks were added, but webhooks were off at start: restart the gateway to turn them on');
        return;
      }
      byKey = nextByKey;
    },

    async close(graceMs) {
      for (const stop of unsubscribe.splice(0)) stop();
      const closings = observers.map(({ name, observer }) => (observer.close ? guarded(hookLog, name, 'close', () => observer.close!()) : undefined));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.all([dispatcher?.close(graceMs), Promise.race([Promise.all(closings), graceOver])]);
      clearTimeout(timer);
    },
  };
}
