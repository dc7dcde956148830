import path from 'node:path';
import underPressure from '@fastify/under-pressure';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ClaudeCliProvider } from '../providers/claude-cli/index.js';
import { resolveModel } from '../providers/claude-cli/models.js';
import type { Provider } from '../providers/types.js';
import chatCompletions from '../routes/chat-completions.js';
import docs from '../routes/docs.js';
import events from '../routes/events.js';
import health from '../routes/health.js';
import models from '../routes/models.js';
import processes from '../routes/processes.js';
import { KeyRing, registerAuth } from './auth.js';
import type { Config } from './config.js';
import { registerErrorHandler, sendError } from './error-handler.js';
import { GatewayError, InvalidRequestError } from './errors.js';
import { servicesPlugin } from './services.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyRing: KeyRing;
  }
}

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
    tmpDir: path.join(config.dataDir, 'tmp'),
    parentEnv: env,
    pool: {
      size: config.pool.size,
      maxProcesses: config.pool.maxProcesses,
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
    loggerInstance: pino({ level: config.logLevel, redact: ['req.headers.authorization'] }) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Completions can take minutes: no request timeout, but keep-alive and headers bounded.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    // Our own onRequest hook answers 503 while closing, in the OpenAI error shape.
    return503OnClosing: false,
    // Errors before routing (a malformed URL, say) get the OpenAI shape too.
    // Malformed HTTP (a header timeout, say) is answered in the same shape before any routing.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const status = (err as { code?: string }).code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({
        error: { message: `bad request: ${err.message}`, type: 'invalid_request_error', param: null, code: 'bad_http_request' },
      });
      socket.end(
        `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
    frameworkErrors: (err, _request, reply) => {
      void sendError(reply, new InvalidRequestError(`bad request: ${err.message}`, null, err.code ?? 'bad_request'));
    },
  });
  // Slow-loris guard: the request head must arrive promptly even though answers may take minutes.
  app.server.headersTimeout = 30_000;
  registerErrorHandler(app, config.bodyLimitBytes);
  // Before any other onRequest hook (auth, load shedding): its own hook marks upgrade requests so that
  // a refused upgrade (401, 503) gets its socket destroyed; registered later, such sockets stay open
  // half-closed and app.close() never returns.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  const keyRing = new KeyRing(config.apiKeys, config.apiKeysFile);
  app.decorate('keyRing', keyRing);
  registerAuth(app, keyRing);
  // Shed load with 503 when the event loop is saturated, rather than answering everyone late.
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    // A rejected promise goes to the error handler, which answers in the OpenAI shape.
    pressureHandler: async (request, _reply, type, value) => {
      // Only the API sheds load: probes and docs answer a busy gateway, which is not a dead one.
      if (!request.url.startsWith('/v1')) return;
      throw new GatewayError(503, 'api_error', `the gateway is overloaded (${type}: ${value}); retry later`, {
        code: 'gateway_overloaded',
        headers: { 'retry-after': '5' },
      });
    },
  });
  await app.register(docs);
  await app.register(servicesPlugin, { config, provider: opts.provider ?? defaultProvider(config, opts.env) });
  await app.register(chatCompletions);
  await app.register(processes);
  await app.register(events);
  await app.register(models);
  await app.register(health);
  return app;
}
