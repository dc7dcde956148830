import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { toProcessObject } from '../src/openai/records.js';
import { toCompletionJob } from '../src/openai/request.js';
import { toChatCompletion } from '../src/openai/response.js';
import { chatCompletionRequestSchema } from '../src/openai/schemas.js';
import { ChunkStream, type StreamData } from '../src/openai/stream.js';
import type { ProcessHandle } from '../src/gateway.js';
import { sendError } from '../src/http/error-handler.js';
import { parseWith } from '../src/validation.js';

/** Aborted when the client goes away before its answer is complete: the gateway then cancels the process. */
function disconnected(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * Who served the answer: its target (`claude-cli/sonnet`) and how many attempts it took, from the
 * process record; and, with the response cache on, whether it came from there.
 */
function attribution(handle: ProcessHandle): Record<string, string> {
  const { attempts } = handle.record();
  const headers: Record<string, string> = { 'x-gateway-model': attempts.at(-1)!.target, 'x-gateway-attempts': String(attempts.length) };
  if (handle.cache) headers['x-cache'] = handle.cache;
  return headers;
}

/** The client asked that no cached answer be used (`Cache-Control: no-cache` or `no-store`). */
function noCache(header: string | undefined): boolean {
  return header !== undefined && /(?:^|,)\s*no-(?:cache|store)\s*(?:,|$)/i.test(header);
}

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

  /**
   * Server-sent events: each of the run's events is written as it comes, never held back. The
   * stream opens with the run's first event: until then the gateway may still retry or fall back,
   * and a run that fails before it has anything to send answers as a plain error, with its status.
   */
  async function stream(reply: FastifyReply, handle: ProcessHandle, includeUsage: boolean) {
    const chunks = new ChunkStream(handle.ids, includeUsage);
    const events = handle.events[Symbol.asyncIterator]();
    const first = await events.next();
    const failed = !first.done && first.value.type === 'outcome' ? first.value.outcome.error : undefined;
    if (failed) {
      reply.header('x-process-id', handle.id).header('x-session-id', handle.sessionId).headers(attribution(handle));
      return sendError(reply, failed);
    }
    // Fire and forget, as a stream of small writes: the socket's own buffer is the only one.
    const write = (data: StreamData) => reply.raw.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-process-id': handle.id,
      'x-session-id': handle.sessionId,
      ...attribution(handle),
    });
    write(chunks.start(handle.sessionId));
    for (let next = first; !next.done; next = await events.next()) for (const data of chunks.push(next.value)) write(data);
    reply.raw.end();
  }
};

export default chatCompletions;
