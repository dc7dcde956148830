import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { endSocketWithError } from './error-handler.js';
import { InvalidRequestError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route has a WebSocket handler (set from `wsHandler`): the only kind an upgrade may reach. */
    websocket?: boolean;
  }
}

/**
 * Upgrade requests get OpenAI-shaped refusals like any other request: an upgrade to a route that
 * is no WebSocket endpoint is refused before it happens (rather than accepted and dropped), and
 * whatever handshake `ws` itself refuses is answered in our shape instead of its text/html 400.
 * Needs @fastify/websocket registered first, and must come before the routes.
 */
export function registerWebSocketUpgrades(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.wsHandler || route.websocket) route.config = { ...route.config, websocket: true };
  });
  app.addHook('onRequest', async (request) => {
    const { url, config } = request.routeOptions;
    // `request.ws` marks an upgrade request; an unmatched path goes on to its 404.
    if (request.ws && url !== undefined && !config.websocket) {
      throw new InvalidRequestError(`${url} is not a WebSocket endpoint`, null, 'websocket_not_supported');
    }
  });
  app.websocketServer.on('wsClientError', (err: Error, socket: Duplex) =>
    endSocketWithError(socket, new InvalidRequestError(`invalid WebSocket handshake: ${err.message}`, null, 'invalid_websocket_handshake')),
  );
}
