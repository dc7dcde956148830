import { AsyncLocalStorage } from 'node:async_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FinishedProcess, GatewayMetrics } from '../core/metrics.js';
import type { GatewayStats } from '../gateway.js';

/** What the gauges read at scrape time, and which model names are served: the gateway. */
export interface MetricsSource {
  stats(): GatewayStats;
  models(): { id: string }[];
}

/** How a CLI process was started: kept in the pool (long-lived), or for one run (`claude -p`). */
export type SpawnMode = 'pooled' | 'one_shot';

/** Values a label takes at most (targets, front doors): beyond them, `other`. */
const MAX_LABEL_VALUES = 64;
const OTHER = 'other';

/** Seconds: from a fast cached answer to a long agentic run. */
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const SPAWN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30];

/** Label values seen so far, up to a bound. */
class BoundedValues {
  private readonly seen = new Set<string>();
  constructor(private readonly max = MAX_LABEL_VALUES) {}
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }
}

/**
 * The gateway's metrics in Prometheus form (prom-client): the GatewayMetrics port the core calls,
 * plus what the front doors report (HTTP requests, event subscribers) and the providers (CLI
 * spawns). One registry per instance, nothing module-wide: tests run many gateways in one process.
 * Labels are bounded: models to the names the gateway serves, targets and front doors to the first
 * few seen, never a process or session id.
 */
export class PrometheusMetrics implements GatewayMetrics {
  readonly registry = new Registry();
  private source?: MetricsSource;
  /** The front door serving the current call chain (an HTTP route's handler runs inside it). */
  private readonly serving = new AsyncLocalStorage<string>();
  private readonly targets = new BoundedValues();
  private readonly frontDoors = new BoundedValues(16);
  private readonly subscribers = new Map<string, number>();

  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  private readonly completions: Counter<'front_door' | 'model' | 'provider' | 'status'>;
  private readonly firstTokens: Histogram<'model'>;
  private readonly runDuration: Histogram<'model' | 'status'>;
  private readonly queueWait: Histogram<'model'>;
  private readonly tokens: Counter<'model' | 'key_id' | 'type'>;
  private readonly cost: Counter<'model' | 'key_id'>;
  private readonly retries: Counter<'target'>;
  private readonly fallbacks: Counter<'from' | 'to'>;
  private readonly cooldowns: Counter<'target'>;
  private readonly cache: Counter<'model' | 'result'>;
  private readonly upstreamErrors: Counter<'provider' | 'kind'>;
  private readonly spawns: Counter<'mode' | 'outcome'>;
  private readonly spawnSeconds: Histogram<'mode'>;
  private readonly webhooks: Counter<'outcome'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests answered, by route template, method and status.', labelNames: ['route', 'method', 'status'], registers });
    this.httpDuration = new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (a stream: until its end), by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.completions = new Counter({
      name: 'gateway_completions_total',
      help: 'Processes finished, by front door, model as requested, provider that served (or failed) last, and final status.',
      labelNames: ['front_door', 'model', 'provider', 'status'],
      registers,
    });
    this.firstTokens = new Histogram({
      name: 'gateway_time_to_first_token_seconds',
      help: "Time from a process's start to its first output (a delta, a tool call, or its whole answer), by model.",
      labelNames: ['model'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.runDuration = new Histogram({
      name: 'gateway_run_duration_seconds',
      help: "Time from a process's start to its end, retries included, by model and final status.",
      labelNames: ['model', 'status'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({ name: 'gateway_queue_wait_seconds', help: 'Time processes waited in the queue before starting, by model.', labelNames: ['model'], buckets: RUN_BUCKETS, registers });
    this.tokens = new Counter({
      name: 'gateway_tokens_total',
      help: 'Tokens used by finished processes, by model, API key id and type (prompt includes cache reads and writes; cached: the reads).',
      labelNames: ['model', 'key_id', 'type'],
      registers,
    });
    this.cost = new Counter({ name: 'gateway_cost_usd_total', help: 'What finished processes cost in USD (those with a known price), by model and API key id.', labelNames: ['model', 'key_id'], registers });
    this.retries = new Counter({ name: 'gateway_retries_total', help: 'Failed tries followed by another try of the same target, by target.', labelNames: ['target'], registers });
    this.fallbacks = new Counter({ name: 'gateway_fallbacks_total', help: 'Failed targets followed by the next target of their route, by both targets.', labelNames: ['from', 'to'], registers });
    this.cooldowns = new Counter({ name: 'gateway_cooldowns_total', help: 'Times a target failing in a row was put in cooldown (skipped for a while), by target.', labelNames: ['target'], registers });
    this.cache = new Counter({ name: 'gateway_cache_requests_total', help: 'Response cache lookups, by model and result (hit or miss).', labelNames: ['model', 'result'], registers });
    this.upstreamErrors = new Counter({ name: 'gateway_upstream_errors_total', help: "Providers' failed tries, by provider and error kind.", labelNames: ['provider', 'kind'], registers });
    this.spawns = new Counter({ name: 'gateway_cli_spawns_total', help: 'Claude CLI processes started, by mode (pooled, one_shot) and outcome.', labelNames: ['mode', 'outcome'], registers });
    this.spawnSeconds = new Histogram({
      name: 'gateway_cli_spawn_seconds',
      help: 'Start-up time of a pooled Claude CLI process: from spawn to its answer to the initialize handshake.',
      labelNames: ['mode'],
      buckets: SPAWN_BUCKETS,
      registers,
    });
    this.webhooks = new Counter({ name: 'gateway_webhook_deliveries_total', help: 'Webhook deliveries, by outcome.', labelNames: ['outcome'], registers });
    for (const result of ['hit', 'miss']) this.cache.labels(OTHER, result).inc(0);
    for (const outcome of ['delivered', 'retried', 'dead_lettered']) this.webhooks.labels(outcome).inc(0);
    this.gauges(registers);
  }

  /** The gauges, read from the gateway at scrape time. */
  private gauges(registers: Registry[]): void {
    const stats = () => this.source?.stats();
    new Gauge({
      name: 'gateway_queue_depth',
      help: 'Processes waiting in the queue.',
      registers,
      collect() {
        this.set(stats()?.queued ?? 0);
      },
    });
    new Gauge({
      name: 'gateway_processes',
      help: 'Processes queued or running now, by state.',
      labelNames: ['state'],
      registers,
      collect() {
        const s = stats();
        this.set({ state: 'queued' }, s?.queued ?? 0);
        this.set({ state: 'running' }, s?.running ?? 0);
      },
    });
    new Gauge({
      name: 'gateway_pool_processes',
      help: "The CLI pool's live processes, by state (probing, warm, reserved, busy, hot, waiting, closing).",
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(stats()?.pool ?? {})) if (state !== 'total') this.set({ state }, n);
      },
    });
    const subscribers = this.subscribers;
    new Gauge({
      name: 'gateway_event_subscribers',
      help: 'Event subscribers connected now, by front door (websocket, socket).',
      labelNames: ['front_door'],
      registers,
      collect() {
        this.reset();
        for (const [frontDoor, n] of subscribers) this.set({ front_door: frontDoor }, n);
      },
    });
  }

  /** The gateway the gauges read and whose served model names are kept as labels. */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // ------------------------------------------------------------ front doors

  /** Runs `fn` as serving `frontDoor`: the processes it submits are counted under it. */
  withFrontDoor<T>(frontDoor: string, fn: () => T): T {
    return this.serving.run(this.frontDoors.label(frontDoor), fn);
  }

  frontDoor(): string | undefined {
    return this.serving.getStore();
  }

  /** An HTTP request answered; `route` is its template (`/v1/processes/:id`), never its path. */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** An event subscriber connected (`websocket`, `socket`); call what it returns when it leaves (once or more). */
  eventSubscriber(frontDoor: string): () => void {
    const label = this.frontDoors.label(frontDoor);
    this.subscribers.set(label, (this.subscribers.get(label) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.subscribers.set(label, (this.subscribers.get(label) ?? 1) - 1);
    };
  }

  /** A webhook delivery attempt's outcome (`delivered`, `retried`, `dead_lettered`). */
  webhookDelivery(outcome: string): void {
    this.webhooks.inc({ outcome });
  }

  // ------------------------------------------------------------ providers

  /** A CLI process started; `startupSeconds` once it answered its handshake, undefined when it did not. */
  cliSpawned(mode: SpawnMode, startupSeconds?: number): void {
    this.spawns.inc({ mode, outcome: startupSeconds === undefined && mode === 'pooled' ? 'failed' : 'started' });
    if (startupSeconds !== undefined) this.spawnSeconds.observe({ mode }, startupSeconds);
  }

  // ------------------------------------------------------------ the core (GatewayMetrics)

  processStarted(model: string, queuedSeconds: number): void {
    this.queueWait.observe({ model: this.model(model) }, queuedSeconds);
  }

  processFinished(p: FinishedProcess): void {
    const model = this.model(p.model);
    const keyId = p.keyId ?? 'none';
    this.completions.inc({ front_door: p.frontDoor, model, provider: p.provider, status: p.status });
    if (p.runSeconds !== undefined) this.runDuration.observe({ model, status: p.status }, p.runSeconds);
    if (p.tokens) {
      this.tokens.inc({ model, key_id: keyId, type: 'prompt' }, p.tokens.prompt);
      this.tokens.inc({ model, key_id: keyId, type: 'completion' }, p.tokens.completion);
      this.tokens.inc({ model, key_id: keyId, type: 'cached' }, p.tokens.cached);
    }
    if (p.costUsd !== null && p.costUsd > 0) this.cost.inc({ model, key_id: keyId }, p.costUsd);
  }

  firstToken(model: string, seconds: number): void {
    this.firstTokens.observe({ model: this.model(model) }, seconds);
  }

  retried(target: string): void {
    this.retries.inc({ target: this.targets.label(target) });
  }

  fellBack(from: string, to: string): void {
    this.fallbacks.inc({ from: this.targets.label(from), to: this.targets.label(to) });
  }

  cooledDown(target: string): void {
    this.cooldowns.inc({ target: this.targets.label(target) });
  }

  cacheLookup(model: string, hit: boolean): void {
    this.cache.inc({ model: this.model(model), result: hit ? 'hit' : 'miss' });
  }

  upstreamError(provider: string, kind: string): void {
    this.upstreamErrors.inc({ provider, kind });
  }

  /**
   * A requested model name as a label: one the gateway lists (`claude-cli/sonnet`, a route's name,
   * `anthropic/claude-sonnet-4-5`) or the bare name of one (`sonnet`), else `other`.
   */
  private model(name: string): string {
    const listed = this.source?.models() ?? [];
    return listed.some((m) => m.id === name || m.id.endsWith(`/${name}`)) ? name : OTHER;
  }
}
