/**
 * Stops something in two steps: `ask` now (SIGTERM, an interrupt, closing stdin), `force` once
 * `graceMs` has passed (SIGKILL), unless the returned function is called first because it stopped.
 */
export function stopWithGrace(ask: () => void, force: () => void, graceMs: number): () => void {
  ask();
  const timer = setTimeout(force, graceMs);
  // Never what keeps the gateway alive: the exit hooks kill what is left.
  timer.unref();
  return () => clearTimeout(timer);
}

/**
 * `stopWithGrace` once `signal` aborts (at once if it already has). Call the returned function when
 * the work has ended: it stops listening and cancels a pending `force`.
 */
export function stopOnAbort(signal: AbortSignal, ask: () => void, force: () => void, graceMs: number): () => void {
  let cancelForce: (() => void) | undefined;
  const onAbort = () => {
    cancelForce = stopWithGrace(ask, force, graceMs);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    cancelForce?.();
  };
}
