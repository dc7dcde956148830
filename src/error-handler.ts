import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError, InvalidRequestError, NotFoundError, PayloadTooLargeError } from './errors.js';

/** Sends a GatewayError as the OpenAI error body, with its status and headers. */
export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
  return reply.code(err.status).headers(err.headers).send({ error: err.toJSON() });
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

/** The one place errors become HTTP answers: OpenAI's shape always, internals never leaked on 5xx. */
export function registerErrorHandler(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const known = err instanceof GatewayError ? err : fromFastify(err, bodyLimit);
    if (known) {
      if (known.status >= 500) request.log.warn({ err: known }, known.message);
      return sendError(reply, known);
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, new GatewayError(500, 'api_error', 'internal server error', { code: 'internal_error' }));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new NotFoundError(`no route for ${request.method} ${request.url.split('?')[0]}`, null, 'unknown_route')),
  );
}
