import type { Span } from '@opentelemetry/api';
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { OtelTracing } from '../telemetry/otel.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span, when tracing is on. */
    traceSpan?: Span;
  }
}

/**
 * Every HTTP request a server span (named by its route template, continuing an incoming
 * `traceparent`), ended when its answer is (also a stream's, which Fastify no longer follows); each
 * handler runs in it, so the processes it submits are its children. Registered before the routes.
 */
export function registerTracing(app: FastifyInstance, tracing: OtelTracing): void {
  const contexts = new WeakMap<object, ReturnType<OtelTracing['startRequest']>['context']>();
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const { span, context } = tracing.startRequest(`${request.method} ${route}`, request.headers, {
      'http.request.method': request.method,
      'http.route': route,
    });
    request.traceSpan = span;
    contexts.set(request, context);
    reply.raw.once('close', () => {
      span.setAttribute('http.response.status_code', reply.raw.statusCode);
      if (reply.raw.statusCode >= 500) span.setStatus({ code: 2 });
      span.end();
    });
  });
  app.addHook('onRoute', (route) => {
    if ((route as { websocket?: boolean }).websocket) return;
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function (request, reply) {
      const ctx = contexts.get(request);
      return ctx ? tracing.within(ctx, () => handler.call(this, request, reply)) : handler.call(this, request, reply);
    };
  });
}
