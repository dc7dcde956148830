import underPressure from '@fastify/under-pressure';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import chatCompletions from '../../routes/chat-completions.js';
import dashboard from '../../routes/dashboard.js';
import docs from '../../routes/docs.js';
import events from '../../routes/events.js';
import health from '../../routes/health.js';
import messages from '../../routes/messages.js';
import metrics from '../../routes/metrics.js';
import models from '../../routes/models.js';
import processes from '../../routes/processes.js';
import responses from '../../routes/responses.js';
import sessions from '../../routes/sessions.js';
import usage from '../../routes/usage.js';
import { KeyRing, registerAuth } from './auth.js';
import { registerBrowserGuard } from './browser-guard.js';
import type { Config } from '../config.js';
import type { ConfigKey } from '../core/keys.js';
import { clientErrorHandler, registerErrorHandler, sendError } from './error-handler.js';
import { GatewayError, InvalidRequestError, ServiceUnavailableError } from '../core/errors.js';
import type { Gateway } from '../gateway.js';
import type { PrometheusMetrics } from '../metrics/prometheus.js';
import type { OtelTracing } from '../telemetry/otel.js';
import { registerTracing } from './tracing.js';
import { registerNestingLimit } from './json-nesting.js';
import { registerWebSocketUpgrades } from './websocket-upgrades.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyRing: KeyRing;
    /** What the routes adapt: they reach nothing else of the core. */
    gateway: Gateway;
  }
}

export interface AppOptions {
  /** The gateway's logger (the one the gateway logs through); pino, so that Fastify takes it as it is. */
  log: PinoLogger;
  /** The `keys:` of GATEWAY_CONFIG (loadGatewayConfig); `app.keyRing.reload(keys)` replaces them. */
  configKeys?: readonly ConfigKey[];
  /** The metrics the gateway reports to (src/metrics/), served on /metrics; default: HTTP and gauges only. */
  metrics?: PrometheusMetrics;
  /** Traces (OTEL_EXPORTER_OTLP_ENDPOINT): every request a span; absent: none. */
  tracing?: OtelTracing;
}

/**
 * Assembles the HTTP front door of `gateway`: plugins, then the gateway, then routes. Does not
 * listen, and does not shut the gateway down: its owner does, before closing the app.
 */
/** How long closing waits for connections that are still open before cutting them. */
const CLOSE_GRACE_MS = 1_000;

export async function buildApp(config: Config, gateway: Gateway, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // As Fastify's base logger type, so that the app keeps the default FastifyInstance type.
    loggerInstance: opts.log as FastifyBaseLogger,
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
  // Closing waits for answers under way; a connection opened but silent (a client's spare one) would
  // hold it until its receive timeout, so after a short grace whatever is left is cut.
  app.addHook('preClose', (done) => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    done();
  });
  registerErrorHandler(app, config.bodyLimitBytes);
  registerNestingLimit(app);
  // Before any other onRequest hook (auth, load shedding): its own hook marks upgrade requests so that
  // a refused upgrade (401, 503) gets its socket destroyed; registered later, such sockets stay open
  // half-closed and app.close() never returns.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  // Browser checks first: a foreign page learns nothing, not even whether a key is needed.
  await registerBrowserGuard(app, config);
  const keyRing = new KeyRing({ api: config.apiKeys, admin: config.adminKeys, config: opts.configKeys }, config.apiKeysFile);
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
  // Before the routes: its hooks count every route registered after it.
  if (opts.tracing) registerTracing(app, opts.tracing);
  await app.register(metrics, { gateway, metrics: opts.metrics, requireKey: config.metricsRequireKey });
  await app.register(docs);
  await app.register(dashboard);
  app.decorate('gateway', gateway);
  // Requests still arriving on open connections while shutting down get the OpenAI error shape.
  app.addHook('onRequest', async () => {
    if (gateway.closing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
  });
  await app.register(chatCompletions);
  await app.register(messages);
  await app.register(responses);
  await app.register(processes);
  await app.register(sessions);
  await app.register(usage);
  await app.register(events);
  await app.register(models);
  await app.register(health);
  return app;
}
