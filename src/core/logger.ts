import type { BaseLogger, Bindings } from 'pino';

/** What the core logs through: the gateway's pino logger, or Fastify's wrapper of it (`app.log`). */
export interface Logger extends Pick<BaseLogger, 'error' | 'warn' | 'info' | 'debug'> {
  child(bindings: Bindings): Logger;
}
