import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { toProcessObject } from '../src/openai/records.js';
import { toCompletionJob } from '../src/openai/request.js';
import { toChatCompletion } from '../src/openai/response.js';
import { chatCompletionRequestSchema } from '../src/openai/schemas.js';
import { ChunkStream, type StreamData } from '../src/openai/stream.js';
import type { ProcessHandle } from '../src/gateway.js';
import { sendError } from '../src/http/error-handler.js';
import { attribution, disconnected, noCache, streamRun } from '../src/http/run-replies.js';
import { parseWith } from '../src/validation.js';

const chatCompletions: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseWith(chatCompletionRequestSchema, request.body);
    const job = toCompletionJob(body, { resolveModel: (name) => gateway.resolveModel(name) });
    // A background process outlives its request.
    const signal = body.background ? undefined : disconnected(reply);
    // Errors up to here (validation, the provider's refusals, CLI missing, 404 session, 429 queue full) are ordinary JSON
    // answers; once a stream has started they can only be its last event.
    const cache = !body.background && body.cache !== false && !noCache(request.headers['cache-control']);
    const handle = await gateway.submit(job, { principal: request.principal, signal, cache });
    if (body.stream && !body.background) return stream(reply, handle, Boolean(body.stream_options?.include_usage));
    reply.header('x-process-id', handle.id).header('x-session-id', handle.sessionId);
    if (body.background) return reply.code(202).headers(attribution(handle)).send(toProcessObject(handle.record()));
    const { result, error, cliMs } = await handle.done;
    reply.headers(attribution(handle));
    // Time spent in the gateway itself, outside the CLI (the overhead benchmark reads it).
    if (cliMs !== undefined) reply.header('x-gateway-overhead-ms', Math.max(0, reply.elapsedTime - cliMs).toFixed(2));
    if (error) return sendError(reply, error);
    return reply.send(toChatCompletion(result!));
  });

  /** `data:` frames of chat.completion.chunks, then `data: [DONE]` (or an error object). */
  function stream(reply: FastifyReply, handle: ProcessHandle, includeUsage: boolean) {
    const chunks = new ChunkStream(handle.ids, includeUsage);
    const frame = (data: StreamData) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    return streamRun(reply, handle, { start: () => [frame(chunks.start(handle.sessionId))], push: (e) => chunks.push(e).map(frame) });
  }
};

export default chatCompletions;
