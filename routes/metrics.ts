import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import fp from 'fastify-plugin';
import type { Gateway } from '../src/gateway.js';
import { PrometheusMetrics } from '../src/metrics/prometheus.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's metrics, which the front doors report to (HTTP requests, event subscribers). */
    metrics: PrometheusMetrics;
  }
}

export interface MetricsRouteOptions {
  /** What the gauges read at scrape time. */
  gateway: Gateway;
  /** The metrics the gateway and its providers report to; default: new ones (HTTP and gauges only). */
  metrics?: PrometheusMetrics;
  /** METRICS_REQUIRE_KEY: /metrics needs a key like the API (when keys are set). */
  requireKey: boolean;
}

/** The front door a route is (bounded: the API formats by name, every other route `http`). */
function frontDoorOf(url: string): string {
  if (url.startsWith('/v1/chat/completions')) return 'chat_completions';
  if (url.startsWith('/v1/responses')) return 'responses';
  if (url.startsWith('/v1/messages')) return 'messages';
  return 'http';
}

/**
 * `GET /metrics` (Prometheus text), and the HTTP front door's share of the metrics: every request
 * by route template (never its path), method and status, and the front door each handler serves,
 * under which the processes it submits are counted. Not encapsulated (fastify-plugin): its hooks
 * see every route registered after it.
 */
const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  const metrics = opts.metrics ?? new PrometheusMetrics();
  metrics.attach(opts.gateway);
  app.decorate('metrics', metrics);

  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    const frontDoor = frontDoorOf(route.url);
    route.handler = function (request, reply) {
      return metrics.withFrontDoor(frontDoor, () => handler.call(this, request, reply));
    };
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/metrics', { config: { public: !opts.requireKey } }, async (_request, reply) => {
    reply.type(metrics.contentType);
    return metrics.render();
  });
};

export default fp(metricsRoutes, { name: 'metrics' });
