// OpenTelemetry traces: the span tree of a completion (in-memory exporter), an incoming traceparent
// continued, and spans reaching a real OTLP/HTTP receiver on loopback from the gateway process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtelTracing } from '../../src/telemetry/otel.js';
import { type TestGateway, FAKE_CLAUDE, startGateway } from '../support/gateway.js';
import { fetchJson, waitFor } from '../support/process-helpers.js';
import { spawnGateway } from '../support/spawn-gateway.js';

describe('traces, in memory', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: OtelTracing;
  let gw: TestGateway;
  beforeAll(async () => {
    tracing = new OtelTracing({}, { processor: new SimpleSpanProcessor(exporter) });
    gw = await startGateway({ fake: true, tracing, env: { POOL_SIZE: '0' } });
  });
  afterAll(async () => {
    await gw?.close();
    await tracing?.close();
  });

  it('makes a request a trace: the HTTP span, the process under it with its queue wait and attempt, GenAI attributes', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetchJson(`${gw.url}/v1/chat/completions`, {
      body: { model: 'sonnet', messages: [{ role: 'user', content: 'traced' }] },
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(200);
    const spans = await waitFor(() => {
      const all = exporter.getFinishedSpans();
      const names = ['POST /v1/chat/completions', 'gateway.process', 'gateway.queue', 'gateway.attempt'];
      return names.every((n) => all.some((s) => s.name === n)) ? all : undefined;
    });
    const byName = (name: string) => spans.find((s) => s.name === name) ?? expect.fail(`no span '${name}' in ${spans.map((s) => s.name).join(', ')}`);
    const httpSpan = byName('POST /v1/chat/completions');
    const processSpan = byName('gateway.process');
    // The caller's trace goes on.
    expect(httpSpan.spanContext().traceId).toBe(traceId);
    expect(processSpan.spanContext().traceId).toBe(traceId);
    expect(processSpan.parentSpanContext?.spanId).toBe(httpSpan.spanContext().spanId);
    for (const child of ['gateway.queue', 'gateway.attempt']) expect(byName(child).parentSpanContext?.spanId).toBe(processSpan.spanContext().spanId);
    expect(httpSpan.attributes).toMatchObject({ 'http.route': '/v1/chat/completions', 'http.response.status_code': 200 });
    expect(processSpan.attributes).toMatchObject({
      'gateway.process.id': res.body.process_id,
      'gen_ai.request.model': 'sonnet',
      'gen_ai.system': 'claude-cli',
      'gateway.status': 'completed',
      'gen_ai.usage.output_tokens': res.body.usage.completion_tokens,
    });
    expect(byName('gateway.attempt').attributes).toMatchObject({ 'gateway.target': 'claude-cli/sonnet' });
  });
});

describe('traces to an OTLP/HTTP receiver (the gateway process)', () => {
  it('exports the spans of a completion to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const bodies: { path: string; type: string | undefined; body: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', type: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    const gw = await spawnGateway({
      CLAUDE_BIN: FAKE_CLAUDE,
      POOL_SIZE: '0',
      DATA_DIR: `/tmp/gw-otlp-${process.pid}-${Date.now()}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'gw-test',
    });
    try {
      const res = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } });
      expect(res.status).toBe(200);
      await waitFor(() => bodies.some((b) => b.body.includes('gateway.process')), { timeoutMs: 15_000 });
      const posted = bodies.find((b) => b.body.includes('gateway.process'))!;
      expect(posted.path).toBe('/v1/traces');
      expect(posted.body).toContain('gw-test');
      expect(posted.body).toContain('POST /v1/chat/completions');
    } finally {
      await gw.stop();
      await new Promise((r) => receiver.close(r));
    }
  });
});
