import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { GatewayError } from '../src/core/errors.js';
import { toEventMessage } from '../src/openai/records.js';
import { type GatewayEvent, PROCESS_ID, eventTypeSchema } from '../src/core/process-types.js';
import { parseWith } from '../src/validation.js';

/** A subscriber this far behind is dropped rather than buffered for without bound. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Close code for a dropped slow subscriber: reconnect with `since` to catch up. */
export const CLOSE_TOO_SLOW = 4008;
const PING_MS = 30_000;

const eventsQuery = z.object({
  process_id: z.string().regex(PROCESS_ID, 'must be a process id').optional(),
  session_id: z.uuid({ message: 'must be a UUID' }).optional(),
  types: z
    .string()
    .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
    .pipe(z.array(eventTypeSchema))
    .optional(),
  // Digits only: an empty `since=` is not 0, and a seq beyond any event's simply replays nothing.
  since: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).optional(),
  api_key: z.string().optional(),
});

/**
 * Each event serialized once, however many subscribers it goes to (the gateway hands every one the
 * same object); the cache is the app's own. The answer an event carries goes out as the chat.completion.
 */
function serializer(): (e: GatewayEvent) => string {
  const serialized = new WeakMap<GatewayEvent, string>();
  return (e) => {
    let json = serialized.get(e);
    if (json === undefined) {
      json = JSON.stringify(toEventMessage(e));
      serialized.set(e, json);
    }
    return json;
  };
}

const events: FastifyPluginAsync = async (app) => {
  const { gateway } = app;
  const serialize = serializer();

  app.route({
    method: 'GET',
    url: '/v1/events',
    config: { apiKeyInQuery: true },
    // Runs before the upgrade, so a bad query is a plain 400 answer.
    preValidation: async (request) => {
      parseWith(eventsQuery, request.query, 'query string');
    },
    // A plain HTTP GET (no upgrade) is told what to do instead.
    handler: async () => {
      throw new GatewayError(426, 'invalid_request_error', 'this is a WebSocket endpoint: connect with an upgrade request', {
        code: 'upgrade_required',
        headers: { upgrade: 'websocket' },
      });
    },
    wsHandler: (socket: WebSocket, request) => {
      const { since, api_key: _, ...filter } = parseWith(eventsQuery, request.query, 'query string');
      const send = (e: GatewayEvent) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(CLOSE_TOO_SLOW, 'subscriber too slow: reconnect with since=<last seq>');
          return;
        }
        socket.send(serialize(e));
      };
      // The principal of the upgrade request: the socket sees what its key may.
      const unsubscribe = gateway.subscribe({ filter, since, principal: request.principal }, send);
      const left = app.metrics.eventSubscriber('websocket');
      const ping = setInterval(() => socket.ping(), PING_MS);
      ping.unref();
      socket.on('close', () => {
        clearInterval(ping);
        unsubscribe();
        left();
      });
    },
  });
};

export default events;
