/** One server-sent event: its `event:` name (empty when it has none) and its `data:` lines joined. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Parses a server-sent event stream from its bytes, as they arrive. Comments and fields other than
 * `event` and `data` are skipped; an event not ended by a blank line when the stream ends is dropped.
 */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const lines = function* (final: boolean): Generator<string> {
    // A '\r' last in the buffer may be half of a '\r\n': it waits for the next chunk.
    const pattern = /\r\n|\r(?!$)|\n/g;
    let start = 0;
    for (let m = pattern.exec(buffer); m; m = pattern.exec(buffer)) {
      yield buffer.slice(start, m.index);
      start = m.index + m[0].length;
    }
    buffer = buffer.slice(start);
    if (final && buffer) {
      yield buffer.replace(/\r$/, '');
      buffer = '';
    }
  };
  const take = function* (final: boolean): Generator<SseEvent> {
    for (const line of lines(final)) {
      if (line === '') {
        if (data.length) yield { event, data: data.join('\n') };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  };
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    yield* take(false);
  }
  buffer += decoder.decode();
  yield* take(true);
}
