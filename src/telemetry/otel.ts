import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { GatewayTracer, SpanAttributes, TraceSpan } from '../core/tracing.js';

const clean = (a: SpanAttributes = {}) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean>;

class OtelSpan implements TraceSpan {
  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
  ) {}

  child(name: string, attributes?: SpanAttributes): TraceSpan {
    const parent = trace.setSpan(context.active(), this.span);
    return new OtelSpan(this.tracer, this.tracer.startSpan(name, { attributes: clean(attributes) }, parent));
  }

  set(attributes: SpanAttributes): void {
    this.span.setAttributes(clean(attributes));
  }

  fail(error: { code?: string | null; message: string }): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    if (error.code) this.span.setAttribute('error.type', error.code);
  }

  end(): void {
    this.span.end();
  }
}

/**
 * Tracing with OpenTelemetry: a provider of its own (nothing global but the context manager and
 * the W3C propagator, which the HTTP hook uses), spans exported in batches over OTLP/HTTP to
 * OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads the standard variables), or to `exporter` (tests).
 * Loaded only when traces are asked for: off, none of this is imported.
 */
export class OtelTracing implements GatewayTracer {
  private readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;

  constructor(env: NodeJS.ProcessEnv, opts: { processor?: SpanProcessor; exporter?: SpanExporter } = {}) {
    const processor = opts.processor ?? new BatchSpanProcessor(opts.exporter ?? new OTLPTraceExporter());
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'claude-cli-gateway' }),
      spanProcessors: [processor],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    this.tracer = this.provider.getTracer('claude-cli-gateway');
  }

  /** A process's span: a child of the span active where it is submitted (its request's). */
  process(attributes: SpanAttributes): TraceSpan {
    return new OtelSpan(this.tracer, this.tracer.startSpan('gateway.process', { attributes: clean(attributes) }, context.active()));
  }

  /** The span of one HTTP request, continuing the caller's trace (`traceparent`). */
  startRequest(name: string, headers: Record<string, unknown>, attributes: SpanAttributes): { span: Span; context: Context } {
    const parent = propagation.extract(context.active(), headers);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: clean(attributes) }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** Runs `fn` with `ctx` active: spans started in it are its children. */
  within<T>(ctx: Context, fn: () => T): T {
    return context.with(ctx, fn);
  }

  async close(): Promise<void> {
    await this.provider.shutdown();
  }
}
