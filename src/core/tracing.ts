/** Span attributes: GenAI semantic conventions where they exist (`gen_ai.request.model`…). */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** One span, opaque to the core: the adapter (src/telemetry/) knows OpenTelemetry. */
export interface TraceSpan {
  /** A span under this one, started now. */
  child(name: string, attributes?: SpanAttributes): TraceSpan;
  set(attributes: SpanAttributes): void;
  /** Marks it failed, with the error's code and message. */
  fail(error: { code?: string | null; message: string }): void;
  end(): void;
}

/**
 * What the core tells tracing (a port). A process span is a child of whatever the caller is serving
 * (its request's span), found by the adapter in the calling context; the rest are children of it.
 */
export interface GatewayTracer {
  process(attributes: SpanAttributes): TraceSpan;
}

const noop = () => undefined;
const NO_SPAN: TraceSpan = Object.freeze({ child: () => NO_SPAN, set: noop, fail: noop, end: noop });

/** Tracing off: nothing is recorded, nothing is allocated. */
export const NO_TRACER: GatewayTracer = Object.freeze({ process: () => NO_SPAN });
