import fp from 'fastify-plugin';
import type { Provider } from '../../providers/types.js';
import type { Config } from '../config.js';
import { ServiceUnavailableError } from '../core/errors.js';
import { EventBus } from '../core/event-bus.js';
import { ProcessManager } from '../core/process-manager.js';
import { nowSeconds } from '../core/process-types.js';
import { Readiness } from '../core/readiness.js';
import { EventLog } from '../stores/jsonl/event-log.js';
import { prepareDirectories } from '../stores/jsonl/data-dirs.js';
import { JsonlFiles, jsonlPath } from '../stores/jsonl/jsonl-file.js';
import { ProcessStore } from '../stores/jsonl/process-store.js';
import { SessionLog } from '../stores/jsonl/session-log.js';
import { SessionStore } from '../stores/jsonl/session-store.js';

export interface Gateway {
  config: Config;
  provider: Provider;
  bus: EventBus;
  manager: ProcessManager;
  sessions: SessionStore;
  /** Whether the provider is usable, cached; the manager checks it before it takes a job. */
  readiness: Readiness;
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

/**
 * The gateway's shared services as one decorator: stores and logs fed by one event bus, the
 * process manager on top. Opening it recovers the previous run's records.
 */
export const servicesPlugin = fp<{ config: Config; provider: Provider }>(
  async (app, { config, provider }) => {
    prepareDirectories(config, (message) => app.log.warn(message));
    const files = new JsonlFiles({
      onCorrupt: ({ file, skipped, copy }) =>
        app.log.warn({ file, skipped, copy }, `skipped ${skipped} unreadable line(s) of ${file}; they are kept in ${copy}`),
    });
    const store = new ProcessStore(jsonlPath(config.dataDir, 'processes'), config.processRetention, files);
    const eventLog = new EventLog(
      jsonlPath(config.dataDir, 'events'),
      config.eventRetention,
      (id) => store.get(id)?.result ?? undefined,
      files,
    );
    const sessions = new SessionStore(jsonlPath(config.dataDir, 'sessions'), files);
    const sessionLog = new SessionLog(config.logDir, files);
    const bus = new EventBus(config.eventRetention, eventLog.history, (err) =>
      app.log.error({ err }, 'an event could not be recorded or delivered'),
    );
    // The process record last: a failed write stops the event, so a record says `completed` only
    // once the logs have the answer too. Subscribers (WebSocket) hear of it after all three.
    bus.record((e) => eventLog.append(e));
    bus.record((e) => sessionLog.apply(e));
    bus.record((e) => store.apply(e));

    // Whatever was queued or running when the gateway last stopped can never finish now.
    try {
      for (const r of store.unfinished()) {
        bus.publish({
          type: 'PROCESS_COMPLETE',
          ts: nowSeconds(),
          process_id: r.id,
          session_id: r.session_id,
          status: 'failed',
          model: r.model,
          key_id: r.key_id,
          error: {
            message: `the gateway stopped while this process was ${r.status}; it did not complete`,
            type: 'api_error',
            param: null,
            code: 'gateway_restarted',
          },
        });
      }
    } catch (err) {
      files.closeAll(); // a failed start holds nothing open
      throw err;
    }

    const readiness = new Readiness(() => provider.check());
    const manager = new ProcessManager({ provider, bus, store, sessions, readiness, config, log: app.log });
    provider.capabilities.lifecycle?.start();

    app.decorate('gateway', { config, provider, bus, manager, sessions, readiness });
    // Requests still arriving on open connections while shutting down get the OpenAI error shape.
    app.addHook('onRequest', async () => {
      if (manager.closing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    });
    app.addHook('preClose', async () => {
      await manager.shutdown(config.shutdownGraceMs);
    });
    app.addHook('onClose', async () => {
      await provider.capabilities.lifecycle?.close();
      files.closeAll();
    });
  },
  { name: 'gateway-services' },
);
