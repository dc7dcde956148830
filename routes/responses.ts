import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { NotFoundError, knownError } from '../src/core/errors.js';
import type { Principal } from '../src/core/ownership.js';
import { type GatewayEvent, type ProcessRecord, TERMINAL, carriesResult } from '../src/core/process-types.js';
import type { Gateway, ProcessHandle } from '../src/gateway.js';
import { sendError } from '../src/http/error-handler.js';
import { disconnected, noCache, openEventStream, runHeaders } from '../src/http/run-replies.js';
import { type MessageSource, toResponseJob, withResponsesParam } from '../src/responses/request.js';
import { inputItemsPage, outputAsInput, processIdOf, responseMeta, toResponse } from '../src/responses/response.js';
import {
  type CreateResponseRequest,
  type InputItem,
  type ResponseMeta,
  createResponseRequestSchema,
  inputItemsQuerySchema,
  retrieveQuerySchema,
} from '../src/responses/schemas.js';
import { ResponseEventStream, type ResponseStreamEvent } from '../src/responses/stream.js';
import { parseWith } from '../src/validation.js';

const idParams = z.object({ id: z.string() });

/** Responses a fork follows back at most, to rebuild its conversation. */
const MAX_CHAIN = 1_000;

interface StoredResponse {
  record: ProcessRecord;
  meta: ResponseMeta;
}

const responseNotFound = (id: string, param: string) => new NotFoundError(`response '${id}' does not exist`, param, 'response_not_found');

/** A response the principal may see: its process record and what its request kept; another key's, or a process of another front door, is a 404. */
async function loadResponse(gateway: Gateway, id: string, principal: Principal, param = 'id'): Promise<StoredResponse> {
  const processId = processIdOf(id);
  if (!processId) throw responseNotFound(id, param);
  let record: ProcessRecord;
  try {
    record = await gateway.get(processId, principal);
  } catch (err) {
    if (err instanceof NotFoundError) throw responseNotFound(id, param);
    throw err;
  }
  const meta = responseMeta(record);
  if (!meta) throw responseNotFound(id, param);
  return { record, meta };
}

/**
 * Where a response with `previous_response_id` runs. The latest response of its session continues
 * that session (its hot process, its parked run waiting for function results). An earlier one forks:
 * the conversation up to it is rebuilt from the chain of previous responses (their input items and
 * answers) and sent whole to a new session, so the old session's later turns are left out.
 */
async function placement(gateway: Gateway, body: CreateResponseRequest, principal: Principal): Promise<{ session: { kind: 'new' } | { kind: 'continue'; sessionId: string }; history?: InputItem[] }> {
  if (!body.previous_response_id) return { session: { kind: 'new' } };
  const previous = await loadResponse(gateway, body.previous_response_id, principal, 'previous_response_id');
  const latest = await gateway.list({ session_id: previous.record.session_id, limit: 1 }, principal);
  if (latest.data[0]?.id === previous.record.id) return { session: { kind: 'continue', sessionId: previous.record.session_id } };
  const chain: StoredResponse[] = [previous];
  for (let prev = previous.meta.previous_response_id; prev && chain.length < MAX_CHAIN; ) {
    const earlier = await loadResponse(gateway, prev, principal, 'previous_response_id');
    chain.unshift(earlier);
    prev = earlier.meta.previous_response_id;
  }
  const history = chain.flatMap(({ record, meta }) => [...meta.input, ...(record.result ? outputAsInput(record.result) : [])]);
  return { session: { kind: 'new' }, history };
}

/** The error in the Responses request's terms (a provider's 400 names chat fields), or the error as it is. */
function asResponsesError(err: unknown, sources: readonly MessageSource[]): unknown {
  const known = knownError(err);
  return known ? withResponsesParam(known, sources) : err;
}

const isDone = (record: ProcessRecord) => TERMINAL.includes(record.status) || record.status === 'requires_action';

function writeEvent(reply: FastifyReply, e: ResponseStreamEvent): void {
  reply.raw.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
}

const responses: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.post('/v1/responses', async (request, reply) => {
    const body = parseWith(createResponseRequestSchema, request.body);
    const { principal } = request;
    const { session, history } = await placement(gateway, body, principal);
    const { job, sources } = toResponseJob(body, { resolveModel: (name) => gateway.resolveModel(name), session, history });
    // A background response outlives its request.
    const background = body.background === true;
    const cache = !background && !noCache(request.headers['cache-control']);
    let handle: ProcessHandle;
    try {
      handle = await gateway.submit(job, { principal, signal: background ? undefined : disconnected(reply), cache });
    } catch (err) {
      throw asResponsesError(err, sources);
    }
    const meta = job.meta as ResponseMeta;
    if (body.stream) return stream(reply, handle, meta, sources);
    reply.headers(runHeaders(handle));
    // OpenAI answers a background response at once, queued or in progress: follow it with GET.
    if (background) return toResponse(handle.record(), meta);
    const { error } = await handle.done;
    if (error) return sendError(reply, withResponsesParam(error, sources));
    return toResponse(handle.record(), meta);
  });

  /**
   * The typed event stream, opened with the run's first event as chat completions' is: a run that
   * fails before it has anything to send answers as a plain error, with its status; after, the
   * stream ends with `error` and `response.failed`.
   */
  async function stream(reply: FastifyReply, handle: ProcessHandle, meta: ResponseMeta, sources: readonly MessageSource[]) {
    const mapper = new ResponseEventStream(handle.ids.completionId);
    const events = handle.events[Symbol.asyncIterator]();
    const first = await events.next();
    const failed = !first.done && first.value.type === 'outcome' ? first.value.outcome.error : undefined;
    if (failed) return sendError(reply.headers(runHeaders(handle)), withResponsesParam(failed, sources));
    openEventStream(reply, runHeaders(handle));
    const write = (e: ResponseStreamEvent) => writeEvent(reply, e);
    mapper.start(toResponse(handle.record(), meta)).forEach(write);
    for (let next = first; !next.done; next = await events.next()) {
      if (next.value.type === 'outcome') mapper.finish(toResponse(handle.record(), meta)).forEach(write);
      else mapper.push(next.value).forEach(write);
    }
    reply.raw.end();
  }

  app.get('/v1/responses/:id', async (request, reply) => {
    const { id } = parseWith(idParams, request.params);
    const query = parseWith(retrieveQuerySchema, request.query, 'query string');
    const { record, meta } = await loadResponse(gateway, id, request.principal);
    if (query.stream !== 'true') return toResponse(record, meta);
    return replay(reply, record, meta, request.principal, query.starting_after ?? -1);
  });

  /**
   * A response's events, numbered as its own stream's, after `startingAfter`: synthesized from its
   * record, then live until it is done. Text deltas are not kept, so the text of a replayed answer
   * comes in one delta.
   */
  async function replay(reply: FastifyReply, record: ProcessRecord, meta: ResponseMeta, principal: Principal, startingAfter: number) {
    const mapper = new ResponseEventStream(record.result?.completionId ?? record.id.replace(/^proc_/, ''));
    const write = (e: ResponseStreamEvent) => {
      if (e.sequence_number > startingAfter) writeEvent(reply, e);
    };
    // Subscribed before the record is read again: its end cannot fall between the two.
    let ended!: (e: GatewayEvent) => void;
    const end = new Promise<GatewayEvent>((resolve) => (ended = resolve));
    const unsubscribe = gateway.subscribe({ filter: { process_id: record.id }, principal }, (e) => {
      if (carriesResult(e)) ended(e);
    });
    try {
      const now = await gateway.get(record.id, principal);
      openEventStream(reply, { 'x-process-id': now.id, 'x-session-id': now.session_id });
      mapper.start(toResponse(now, meta)).forEach(write);
      if (!isDone(now)) {
        const gone = new Promise<void>((resolve) => reply.raw.once('close', () => resolve()));
        if ((await Promise.race([end, gone])) === undefined) return;
      }
      // The recorders run before subscribers: the record read now is the finished one.
      mapper.finish(toResponse(await gateway.get(record.id, principal), meta)).forEach(write);
      reply.raw.end();
    } finally {
      unsubscribe();
    }
  }

  app.post('/v1/responses/:id/cancel', async (request) => {
    const { id } = parseWith(idParams, request.params);
    const { record, meta } = await loadResponse(gateway, id, request.principal);
    return toResponse(await gateway.cancel(record.id, request.principal), meta);
  });

  /**
   * Cancels the response if it still runs (or waits for function results). Its process record
   * stays, as every process's does: on /v1/processes, and still readable here.
   */
  app.delete('/v1/responses/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    const { record } = await loadResponse(gateway, id, request.principal);
    if (!TERMINAL.includes(record.status)) await gateway.cancel(record.id, request.principal);
    return { id, object: 'response.deleted', deleted: true };
  });

  app.get('/v1/responses/:id/input_items', async (request) => {
    const { id } = parseWith(idParams, request.params);
    const query = parseWith(inputItemsQuerySchema, request.query, 'query string');
    const { meta } = await loadResponse(gateway, id, request.principal);
    return inputItemsPage(meta, id, query);
  });
};

export default responses;
