import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ProcessHandle } from '../src/gateway.js';
import { sendError } from '../src/http/error-handler.js';
import { disconnected, noCache, runHeaders, streamRun } from '../src/http/run-replies.js';
import { estimateInputTokens, toMessagesJob } from '../src/messages/request.js';
import { toMessage } from '../src/messages/response.js';
import { countTokensRequestSchema, messagesRequestSchema } from '../src/messages/schemas.js';
import { MessageStream, type StreamEvent } from '../src/messages/stream.js';
import { modelNotFound } from '../src/core/errors.js';
import { parseWith } from '../src/validation.js';

/**
 * The Anthropic Messages API, as `@anthropic-ai/sdk` and Claude Code call it (`?beta=true` included):
 * the key as `x-api-key` or Bearer, `anthropic-version` / `anthropic-beta` accepted and not read,
 * and every error, from auth and body parsing on, in Anthropic's shape.
 */
const config = { errorFormat: 'anthropic' as const };

const messages: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.post('/v1/messages', { config }, async (request, reply) => {
    const body = parseWith(messagesRequestSchema, request.body);
    const job = toMessagesJob(body, { resolveModel: (name) => gateway.resolveModel(name) });
    const cache = !noCache(request.headers['cache-control']);
    // Errors up to here (validation, the provider's refusals, 429 queue full…) are plain error answers.
    const handle = await gateway.submit(job, { principal: request.principal, signal: disconnected(reply), cache });
    if (body.stream) return stream(reply, handle);
    const { result, error } = await handle.done;
    reply.headers(runHeaders(handle));
    if (error) return sendError(reply, error);
    return reply.send(toMessage(result!));
  });

  /** An estimate (see estimateInputTokens): nothing runs, and the model must be one the gateway serves. */
  app.post('/v1/messages/count_tokens', { config }, async (request) => {
    const body = parseWith(countTokensRequestSchema, request.body);
    if (!gateway.resolveModel(body.model)) throw modelNotFound(body.model);
    return { input_tokens: estimateInputTokens(body) };
  });

  /** Anthropic's `event:` / `data:` frames (see streamRun for when the stream opens). */
  function stream(reply: FastifyReply, handle: ProcessHandle) {
    const mapper = new MessageStream(handle.ids);
    const frame = (e: StreamEvent) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
    return streamRun(reply, handle, { start: () => mapper.start(handle.sessionId).map(frame), push: (e) => mapper.push(e).map(frame) });
  }
};

export default messages;
