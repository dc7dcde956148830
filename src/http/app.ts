import underPressure from '@fastify/under-pressure';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ClaudeCliProvider } from '../../providers/claude-cli/index.js';
import { resolveModel } from '../../providers/claude-cli/models.js';
import type { Provider } from '../../providers/types.js';
import chatCompletions from '../../routes/chat-completions.js';
import docs from '../../routes/docs.js';
import events from '../../routes/events.js';
import health from '../../routes/health.js';
import models from '../../routes/models.js';
import processes from '../../routes/processes.js';
import { KeyRing, registerAuth } from './auth.js';
import { registerBrowserGuard } from './browser-guard.js';
import type { Config } from '../config.js';
import { clientErrorHandler, registerErrorHandler, sendError } from './error-handler.js';
import { GatewayError, InvalidRequestError } from '../core/errors.js';
import { registerNestingLimit } from './json-nesting.js';
import type { Logger } from '../core/logger.js';
import { createLogger } from './logger.js';
import { servicesPlugin } from './services.js';
import { registerWebSocketUpgrades } from './websocket-upgrades.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyRing: KeyRing;
  }
}

export interface AppOptions {
  /** The environment the CLI's allow-list is taken from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

function defaultProvider(config: Config, env: NodeJS.ProcessEnv, log: Logger): Provider {
  return new ClaudeCliProvider({
    bin: config.claudeBin,
    claudeConfigDir: config.claudeConfigDir,
    envPassthrough: config.envPassthrough,
    toolSandbox: config.toolSandbox,
    killGraceMs: config.killGraceMs,
    tmpDir: config.tmpDir,
    parentEnv: env,
    onError: (err) => log.error({ err }, 'a warm Claude CLI process could not be started'),
    pool: {
      size: config.pool.size,
      maxProcesses: config.pool.maxProcesses,
      maxParked: config.pool.maxParked,
      hotTtlMs: config.pool.hotTtlMs,
      maxTurns: config.pool.maxTurns,
      maxRssMb: config.pool.maxRssMb,
      // The profile of a plain request (no system prompt, no tools) for the pool's model.
      defaultProfile: {
        model: resolveModel(config.pool.model) ?? config.pool.model,
        toolPolicy: { tools: [], allowed: [], disallowed: [] },
        cwd: config.workdir,
        clientTools: [],
        parallelToolCalls: true,
      },
    },
  });
}

/** Assembles the gateway: plugins, then shared services, then routes. Does not listen. */
export async function buildApp(config: Config, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // As Fastify's base logger type, so that the app keeps the default FastifyInstance type.
    loggerInstance: createLogger(config.logLevel) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Node's requestTimeout bounds receiving the request (head and body), not the answer, which may
    // stream for minutes; it is checked every connectionsCheckingInterval, hence at most 1 s apart.
    requestTimeout: config.requestReceiveTimeoutMs,
    http: { connectionsCheckingInterval: Math.min(1_000, config.requestReceiveTimeoutMs) },
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    // Our own onRequest hook answers 503 while closing, in the OpenAI error shape.
    return503OnClosing: false,
    // Malformed HTTP and requests not received in time are answered in the OpenAI shape before any routing.
    clientErrorHandler,
    // Errors before routing (a malformed URL, say) get the OpenAI shape too.
    frameworkErrors: (err, _request, reply) => {
      void sendError(reply, new InvalidRequestError(`bad request: ${err.message}`, null, err.code ?? 'bad_request'));
    },
  });
  // Slow-loris guard: the head is bounded like the whole request (Node's default would be 60 s).
  app.server.headersTimeout = config.requestReceiveTimeoutMs;
  registerErrorHandler(app, config.bodyLimitBytes);
  registerNestingLimit(app);
  // Before any other onRequest hook (auth, load shedding): its own hook marks upgrade requests so that
  // a refused upgrade (401, 503) gets its socket destroyed; registered later, such sockets stay open
  // half-closed and app.close() never returns.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  // Browser checks first: a foreign page learns nothing, not even whether a key is needed.
  await registerBrowserGuard(app, config);
  const keyRing = new KeyRing({ api: config.apiKeys, admin: config.adminKeys }, config.apiKeysFile);
  app.decorate('keyRing', keyRing);
  registerAuth(app, keyRing);
  registerWebSocketUpgrades(app);
  // Shed load with 503 when the event loop is saturated, rather than answering everyone late.
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    // A rejected promise goes to the error handler, which answers in the OpenAI shape.
    pressureHandler: async (request, _reply, type, value) => {
      // Only the API sheds load: the open routes (probes, docs) answer a busy gateway, which is not a dead one.
      if (request.routeOptions.config.public) return;
      throw new GatewayError(503, 'api_error', `the gateway is overloaded (${type}: ${value}); retry later`, {
        code: 'gateway_overloaded',
        headers: { 'retry-after': '5' },
      });
    },
  });
  await app.register(docs);
  await app.register(servicesPlugin, { config, provider: defaultProvider(config, opts.env ?? process.env, app.log) });
  await app.register(chatCompletions);
  await app.register(processes);
  await app.register(events);
  await app.register(models);
  await app.register(health);
  return app;
}
