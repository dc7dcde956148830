import type { FastifyReply } from 'fastify';
import type { RunEvent } from '../core/run-types.js';
import type { ProcessHandle } from '../gateway.js';
import { sendError } from './error-handler.js';

// What the routes that answer a run share, whatever their wire format.

/** Aborted when the client goes away before its answer is complete: the gateway then cancels the process. */
export function disconnected(reply: FastifyReply): AbortSignal {
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
export function attribution(handle: ProcessHandle): Record<string, string> {
  const { attempts } = handle.record();
  const headers: Record<string, string> = { 'x-gateway-model': attempts.at(-1)!.target, 'x-gateway-attempts': String(attempts.length) };
  if (handle.cache) headers['x-cache'] = handle.cache;
  return headers;
}

/** The client asked that no cached answer be used (`Cache-Control: no-cache` or `no-store`). */
export function noCache(header: string | undefined): boolean {
  return header !== undefined && /(?:^|,)\s*no-(?:cache|store)\s*(?:,|$)/i.test(header);
}

/** The ids of the process and its session, as every answer of a run carries them. */
export function runHeaders(handle: ProcessHandle): Record<string, string> {
  return { 'x-process-id': handle.id, 'x-session-id': handle.sessionId, ...attribution(handle) };
}

/**
 * Takes the reply over for server-sent events, with `headers` (a run's: runHeaders); the caller
 * then writes each event as it comes (the socket's own buffer is the only one) and ends it with
 * `reply.raw.end()`.
 */
export function openEventStream(reply: FastifyReply, headers: Record<string, string>): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
}

/** A run's events as a wire format's server-sent events: whole frames (`data: …\n\n`, `event: …`). */
export interface SseFrames {
  start(): string[];
  push(event: RunEvent): string[];
}

/**
 * Answers a run as server-sent events, each written as it comes, never held back. The stream opens
 * with the run's first event: until then the gateway may still retry or fall back, and a run that
 * fails before it has anything to send answers as a plain error, with its status; after, an error
 * is the stream's last event (the wire format's frames say how).
 */
export async function streamRun(reply: FastifyReply, handle: ProcessHandle, frames: SseFrames): Promise<FastifyReply | undefined> {
  const events = handle.events[Symbol.asyncIterator]();
  const first = await events.next();
  const failed = !first.done && first.value.type === 'outcome' ? first.value.outcome.error : undefined;
  if (failed) return sendError(reply.headers(runHeaders(handle)), failed);
  openEventStream(reply, runHeaders(handle));
  // Fire and forget, as a stream of small writes: the socket's own buffer is the only one.
  for (const frame of frames.start()) reply.raw.write(frame);
  for (let next = first; !next.done; next = await events.next()) for (const frame of frames.push(next.value)) reply.raw.write(frame);
  reply.raw.end();
  return undefined;
}
