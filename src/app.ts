import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ClaudeCliProvider } from '../providers/claude-cli/index.js';
import type { Provider } from '../providers/types.js';
import chatCompletions from '../routes/chat-completions.js';
import docs from '../routes/docs.js';
import events from '../routes/events.js';
import health from '../routes/health.js';
import models from '../routes/models.js';
import processes from '../routes/processes.js';
import { registerAuth } from './auth.js';
import type { Config } from './config.js';
import { registerErrorHandler } from './error-handler.js';
import { servicesPlugin } from './services.js';

export interface AppOptions {
  /** Another provider than the Claude CLI one (tests of the provider boundary). */
  provider?: Provider;
  /** The environment the CLI's allow-list is taken from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export function defaultProvider(config: Config, env: NodeJS.ProcessEnv = process.env): Provider {
  return new ClaudeCliProvider({
    bin: config.claudeBin,
    claudeConfigDir: config.claudeConfigDir,
    envPassthrough: config.envPassthrough,
    killGraceMs: config.killGraceMs,
    parentEnv: env,
  });
}

/** Assembles the gateway: plugins, then shared services, then routes. Does not listen. */
export async function buildApp(config: Config, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: pino({ level: config.logLevel, redact: ['req.headers.authorization'] }) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Completions can take minutes: no request timeout, but keep-alive and headers bounded.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
  });
  registerErrorHandler(app, config.bodyLimitBytes);
  registerAuth(app, config.apiKeys);
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(docs);
  await app.register(servicesPlugin, { config, provider: opts.provider ?? defaultProvider(config, opts.env) });
  await app.register(chatCompletions);
  await app.register(processes);
  await app.register(events);
  await app.register(models);
  await app.register(health);
  return app;
}
