import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import {
  GatewayError,
  InvalidRequestError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RequestTimeoutError,
  knownError,
} from '../core/errors.js';
import { toAnthropicError } from '../messages/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The error body of the route's answers: OpenAI's (the default), or the Messages API's (`/v1/messages`). */
    errorFormat?: 'anthropic';
  }
}

/**
 * Sends a GatewayError as the error body of the matched route's format (OpenAI's unless its config
 * says `errorFormat`), with its status and headers.
 */
export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
  // The client went away (its process was cancelled for it): nobody reads an answer, and Fastify
  // would hold the request open in wait for one it cannot send.
  if (reply.raw.destroyed) return reply.hijack();
  const anthropic = reply.request.routeOptions?.config?.errorFormat === 'anthropic';
  return reply.code(err.status).headers(err.headers).send(anthropic ? toAnthropicError(err) : { error: err.toJSON() });
}

/**
 * Answers on the bare connection, where Node or ws would otherwise answer for us (malformed HTTP,
 * timeouts while receiving, refused upgrades): the same OpenAI body, then the connection is closed.
 */
export function endSocketWithError(socket: Duplex, err: GatewayError): void {
  // Part of an answer already went out on this connection: another one would corrupt it.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: err.toJSON() });
  const headers = Object.entries(err.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${headers}\r\n${body}`,
  );
}

/** Node's `clientError`: HTTP it cannot parse, or a request not received within the receive timeout. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  endSocketWithError(
    socket,
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new RequestTimeoutError()
      : new InvalidRequestError(`bad request: ${err.message}`, null, 'bad_http_request'),
  );
}

/** Fastify's own errors (body parsing, limits, media types) in the gateway's terms. */
function fromFastify(err: FastifyError, bodyLimit: number): GatewayError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InvalidRequestError('the request body must be JSON (content-type: application/json)', null, 'unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('the request body is empty: it must be a JSON object', null, 'invalid_json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequestError(`the request body is not valid JSON: ${err.message}`, null, 'invalid_json');
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new InvalidRequestError(`the request body is not valid JSON: ${err.message}`, null, 'invalid_json');
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new GatewayError(err.statusCode, 'invalid_request_error', err.message, { code: err.code ?? null });
  }
  return undefined;
}

/**
 * The methods a route can have here, in the order `Allow` lists them (HEAD comes with every GET).
 * Not OPTIONS: its only route is CORS's catch-all (with ALLOWED_ORIGINS), which would make every
 * path, unknown ones too, look like one that exists.
 */
const ROUTABLE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The one place errors become HTTP answers: the route's shape (sendError), internals never leaked on 5xx. */
export function registerErrorHandler(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // A provider's error thrown before any run (a schema it refuses) is mapped like a run's.
    const known = knownError(err) ?? fromFastify(err, bodyLimit);
    if (known) {
      if (known.status >= 500) request.log.warn({ err: known }, known.message);
      return sendError(reply, known);
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, new GatewayError(500, 'api_error', 'internal server error', { code: 'internal_error' }));
  });
  // An Expect other than 100-continue, which Node would answer 417 with an empty body.
  app.server.on('checkExpectation', (request, response) => {
    const err = new GatewayError(417, 'invalid_request_error', `unsupported Expect header: ${request.headers.expect}`, {
      param: 'expect',
      code: 'expectation_failed',
    });
    const body = JSON.stringify({ error: err.toJSON() });
    response.writeHead(err.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    response.end(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = ROUTABLE_METHODS.filter((method) => app.findRoute({ method, url: request.url }));
    if (allowed.length) return sendError(reply, new MethodNotAllowedError(request.method, path, allowed));
    return sendError(reply, new NotFoundError(`no route for ${request.method} ${path}`, null, 'unknown_route'));
  });
}
