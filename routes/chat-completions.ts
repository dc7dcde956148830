import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { toCompletionJob } from '../src/completion-job.js';
import type { ProcessHandle } from '../src/process-manager.js';
import { ChunkBuilder } from '../src/openai/response.js';
import { type ChatCompletionRequest, chatCompletionRequestSchema } from '../src/openai/schemas.js';
import { sendError } from '../src/error-handler.js';
import { parseWith } from '../src/validation.js';
import type { ProviderEvent } from '../providers/types.js';

/** Cancels the process when the client goes away before the answer is complete. */
function cancelOnDisconnect(reply: FastifyReply, handle: ProcessHandle): void {
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) handle.cancel('client_disconnected');
  });
}

const chatCompletions: FastifyPluginAsync = async (app) => {
  const { manager, provider, config, sessions, assertReady } = app.gateway;

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseWith(chatCompletionRequestSchema, request.body);
    const job = toCompletionJob(body, { provider, config, sessions });
    if (body.stream && !body.background) return stream(reply, body, job);

    const handle = await manager.submit(job);
    reply.header('x-process-id', handle.id).header('x-session-id', job.request.sessionId);
    if (body.background) return reply.code(202).send(handle.record());
    cancelOnDisconnect(reply, handle);
    const { record, error, cliMs } = await handle.done;
    // Time spent in the gateway itself, outside the CLI (the overhead benchmark reads it).
    if (cliMs !== undefined) reply.header('x-gateway-overhead-ms', Math.max(0, reply.elapsedTime - cliMs).toFixed(2));
    if (error) return sendError(reply, error);
    return reply.send(record.result);
  });

  /** Server-sent events: deltas are written as the CLI produces them, never buffered. */
  async function stream(reply: FastifyReply, body: ChatCompletionRequest, job: ReturnType<typeof toCompletionJob>) {
    let chunks: ChunkBuilder | undefined;
    const write = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
    /** Tool calls streamed as they were generated, by id. */
    const streamed = new Set<string>();
    const onEvent = (ev: ProviderEvent) => {
      if (!chunks) return;
      if (ev.type === 'text') write(chunks.text(ev.text));
      else if (ev.type === 'tool_call_start') {
        streamed.add(ev.id);
        write(chunks.toolCall(ev.index, { id: ev.id, name: ev.name, arguments: '' }));
      } else if (ev.type === 'tool_call_delta') write(chunks.toolCall(ev.index, { arguments: ev.arguments }));
    };
    // Errors up to here (validation, CLI missing, 404 session, 429 queue full) are ordinary JSON
    // answers; once the stream has started they can only be its last event.
    await assertReady();
    const handle = await manager.submit(job, onEvent);
    chunks = new ChunkBuilder({ id: handle.completionId, created: handle.created, model: job.model, processId: handle.id });
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-process-id': handle.id,
      'x-session-id': job.request.sessionId,
    });
    write(chunks.first(job.request.sessionId));
    cancelOnDisconnect(reply, handle);
    const { record, error } = await handle.done;
    if (error) {
      write({ error: error.toJSON() });
    } else {
      const done = record.result!;
      // Calls handed out without having been streamed (one at a time, after earlier results) go whole.
      const calls = done.choices[0]!.message.tool_calls ?? [];
      calls.forEach((c, i) => {
        if (!streamed.has(c.id)) write(chunks!.toolCall(i, { id: c.id, name: c.function.name, arguments: c.function.arguments }));
      });
      write(chunks.finish(done));
      if (body.stream_options?.include_usage) write(chunks.usage(done));
      reply.raw.write('data: [DONE]\n\n');
    }
    reply.raw.end();
  }
};

export default chatCompletions;
