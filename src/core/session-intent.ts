import type { ChatRequest } from '../../providers/types.js';

/** The ids of the calls a request's messages end by answering: its tool messages after the last assistant one. */
function answeredCallIds(request: ChatRequest): string[] {
  const ids: string[] = [];
  for (const m of [...request.messages].reverse()) {
    if (m.role === 'assistant') break;
    if (m.role === 'user') return [];
    if (m.role === 'tool') ids.push(m.toolCallId);
  }
  return ids;
}

/**
 * Tool results go to the run that waits for them: a request answering a waiting run's calls
 * continues that run's session, when it names no session or that one. Any other request runs as
 * asked (and its results, if any, reach the model as the provider renders them).
 */
export function routeToolResults(
  request: ChatRequest,
  waitingSession: (toolCallIds: string[]) => string | undefined,
): { request: ChatRequest; answersWaitingRun: boolean } {
  const asIs = { request, answersWaitingRun: false };
  const ids = answeredCallIds(request);
  if (!ids.length || request.session.kind === 'fork') return asIs;
  const waiting = waitingSession(ids);
  if (!waiting || (request.session.kind === 'continue' && request.session.sessionId !== waiting)) return asIs;
  return { request: { ...request, session: { kind: 'continue', sessionId: waiting } }, answersWaitingRun: true };
}
