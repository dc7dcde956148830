import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config.js';
import type { Logger } from '../core/logger.js';
import type { GatewayEvent } from '../core/process-types.js';
import type { EventMessage } from '../openai/records.js';

/**
 * An in-process observer: a module named in GATEWAY_CONFIG's `observers`, whose default export is
 * this object or only its `onEvent` function. It sees every event of every key, in seq order: `event`
 * as `/v1/events` sends it (a webhook's body), `raw` as the core has it (the answer as the provider's
 * run result). Both are its own copies. What it throws or rejects with is logged and goes no further;
 * it runs on the gateway's event loop, so it hands slow work off rather than blocking.
 */
export interface Observer {
  onEvent(event: EventMessage, raw: GatewayEvent): unknown;
  /** Called once at shutdown, after the last event; awaited within the shutdown grace. */
  close?(): unknown;
}

export interface LoadedObserver {
  /** The module as GATEWAY_CONFIG names it (for logs). */
  name: string;
  observer: Observer;
}

/**
 * Where an observer module is: a path (`./x.mjs`, `/abs/x.js`) is relative to the GATEWAY_CONFIG
 * file's directory; anything else is a package name, resolved as the gateway's own imports are.
 */
export function observerSpecifier(name: string, configDir: string): string {
  const isPath = name.startsWith('.') || path.isAbsolute(name);
  return isPath ? pathToFileURL(path.resolve(configDir, name)).href : name;
}

/** Imports each observer module; a module that cannot be loaded, or exports no observer, is a ConfigError naming it. */
export async function loadObservers(names: readonly string[], configFile: string): Promise<LoadedObserver[]> {
  const loaded: LoadedObserver[] = [];
  for (const [i, name] of names.entries()) {
    const where = `GATEWAY_CONFIG ${configFile}: observers[${i}] (${name})`;
    let mod: { default?: unknown };
    try {
      mod = (await import(observerSpecifier(name, path.dirname(configFile)))) as { default?: unknown };
    } catch (err) {
      throw new ConfigError(`${where} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
    }
    const exported = mod.default;
    if (typeof exported === 'function') {
      loaded.push({ name, observer: { onEvent: exported as Observer['onEvent'] } });
    } else if (exported !== null && typeof exported === 'object' && typeof (exported as Observer).onEvent === 'function') {
      const o = exported as Observer;
      loaded.push({ name, observer: { onEvent: (e, raw) => o.onEvent(e, raw), close: o.close && (() => o.close!()) } });
    } else {
      throw new ConfigError(`${where}: its default export must be a function, or an object with onEvent(event)`);
    }
  }
  return loaded;
}

/** Calls `fn`; what it throws, synchronously or as a rejected promise, is logged as the observer's. */
export function guarded(log: Logger, name: string, what: string, fn: () => unknown): Promise<void> {
  const failed = (err: unknown) => log.error({ err, observer: name }, `observer ${what} failed`);
  try {
    return Promise.resolve(fn()).then(() => undefined, failed);
  } catch (err) {
    failed(err);
    return Promise.resolve();
  }
}
