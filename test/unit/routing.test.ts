// Routes, retries, cooldowns and budgets as pure decisions: which targets a model name is tried on,
// how long a failed try waits, when a target is left alone, and when a key has spent its budget.
import { describe, expect, it } from 'vitest';
import { ProviderRegistry, targetName } from '../../providers/registry.js';
import { ProviderError, type Provider } from '../../providers/types.js';
import { Cooldowns } from '../../src/core/cooldown.js';
import { BudgetExceededError } from '../../src/core/errors.js';
import { DEFAULT_RETRY, retryDelayMs } from '../../src/core/retry-policy.js';
import { DEFAULT_ROUTING, RouteConfigError, Router } from '../../src/core/routing.js';
import { Spend } from '../../src/core/spend.js';
import { thrown } from './thrown.js';

function stub(name: string): Provider {
  const unused = () => {
    throw new Error('not called');
  };
  const resolveModel = (r: string) => (r.startsWith(`${name}/`) ? r.slice(name.length + 1) : undefined);
  return { name, capabilities: {}, models: () => [], resolveModel, prepare: unused, run: unused, hasSession: unused, check: unused };
}

const registry = new ProviderRegistry([stub('a'), stub('b')]);
const routes = { smart: { targets: ['a/x', 'b/y'], retry: { attempts: 1 } } };

describe('Router', () => {
  it('plans a route as its targets in order, its retry over the default', () => {
    const router = new Router(registry, { ...DEFAULT_ROUTING, routes });
    const plan = router.plan('smart')!;
    expect(plan.route).toBe('smart');
    expect(plan.targets.map(targetName)).toEqual(['a/x', 'b/y']);
    expect(plan.retry).toEqual({ ...DEFAULT_RETRY, attempts: 1 });
    expect(router.models()).toEqual([{ id: 'smart', ownedBy: 'gateway' }]);
  });

  it('plans any other served name as its one target, and none for a name nobody serves', () => {
    const router = new Router(registry);
    expect(router.plan('b/z')!.targets.map(targetName)).toEqual(['b/z']);
    expect(router.plan('b/z')!.route).toBeUndefined();
    expect(router.plan('c/z')).toBeUndefined();
  });

  it('refuses a route target nobody serves, naming its place, and keeps the settings it had', () => {
    const router = new Router(registry, { ...DEFAULT_ROUTING, routes });
    const err = thrown(() => router.update({ ...DEFAULT_ROUTING, routes: { smart: { targets: ['a/x', 'zz/y'] } } }));
    expect(err).toBeInstanceOf(RouteConfigError);
    expect((err as Error).message).toContain('models.smart.targets[1]');
    expect(router.plan('smart')!.targets).toHaveLength(2);
    expect(thrown(() => router.update({ ...DEFAULT_ROUTING, routes: { 'a/x': { targets: ['b/y'] } } }))).toBeInstanceOf(RouteConfigError);
  });

  it('prices a target by its name, else by the name asked for', () => {
    const price = { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 };
    const router = new Router(registry, { ...DEFAULT_ROUTING, routes, prices: { 'b/y': price, smart: { ...price, input: 9 } } });
    const [a, b] = router.plan('smart')!.targets;
    expect(router.price(b!, 'smart')).toBe(price);
    expect(router.price(a!, 'smart')!.input).toBe(9);
    expect(router.price(a!, 'a/x')).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  const policy = { attempts: 3, initialBackoffMs: 100, maxBackoffMs: 1_000 };
  const overloaded = new ProviderError('overloaded', 'busy');

  it('backs off exponentially with full jitter, up to the cap', () => {
    expect(retryDelayMs(policy, 1, overloaded, 60_000, () => 0.999)).toBe(99);
    expect(retryDelayMs(policy, 2, overloaded, 60_000, () => 0.999)).toBe(199);
    expect(retryDelayMs(policy, 2, overloaded, 60_000, () => 0)).toBe(0);
    expect(retryDelayMs({ ...policy, attempts: 10 }, 9, overloaded, 60_000, () => 0.5)).toBe(500);
  });

  it('stops after the attempts, for errors that are not retryable, and when the wait would pass the deadline', () => {
    expect(retryDelayMs(policy, 3, overloaded, 60_000)).toBeUndefined();
    expect(retryDelayMs(policy, 1, new ProviderError('invalid_request', 'bad'), 60_000)).toBeUndefined();
    expect(retryDelayMs(policy, 2, overloaded, 150, () => 0.999)).toBeUndefined();
  });

  it('waits at least what Retry-After says, and not at all when it says longer than the cap', () => {
    const limited = (ms: number) => new ProviderError('rate_limited', 'slow down', { retryAfterMs: ms });
    expect(retryDelayMs(policy, 1, limited(700), 60_000, () => 0)).toBe(700);
    expect(retryDelayMs(policy, 1, limited(5_000), 60_000, () => 0)).toBeUndefined();
  });
});

describe('Cooldowns', () => {
  const name = (t: string) => t;

  it('skips a target after N failures in a row for the cooldown, then lets it be tried again', () => {
    let now = 0;
    const c = new Cooldowns({ failures: 2, seconds: 10 }, () => now);
    c.failed('a');
    expect(c.order(['a', 'b'], name)).toEqual(['a', 'b']);
    c.failed('a');
    expect(c.order(['a', 'b'], name)).toEqual(['b']);
    now = 10_001;
    expect(c.order(['a', 'b'], name)).toEqual(['a', 'b']);
    // Half-open: one more failure opens it again at once.
    c.failed('a');
    expect(c.order(['a', 'b'], name)).toEqual(['b']);
    c.succeeded('a');
    expect(c.order(['a', 'b'], name)).toEqual(['a', 'b']);
  });

  it('tries the target whose cooldown ends first when every one is cooling', () => {
    let now = 0;
    const c = new Cooldowns({ failures: 1, seconds: 10 }, () => now);
    c.failed('a');
    now = 5_000;
    c.failed('b');
    expect(c.order(['b', 'a'], name)).toEqual(['a']);
    expect(c.cooling('a')).toBe(true);
  });

  it('counts failures in a row only: a success resets them', () => {
    const c = new Cooldowns({ failures: 2, seconds: 10 });
    c.failed('a');
    c.succeeded('a');
    c.failed('a');
    expect(c.cooling('a')).toBe(false);
  });
});

describe('Spend', () => {
  const DAY = 86_400;
  const entry = (key: string | null, cost: number | null, at: number) => ({
    process_id: 'p',
    finished_at: at,
    key_id: key,
    model: 'm',
    prompt_tokens: 1,
    completion_tokens: 1,
    cached_tokens: 0,
    cost_usd: cost,
  });
  const team = (budgetUsd: { daily?: number; total?: number }) => ({ keyId: 'team', admin: false, policy: { budgetUsd } });

  it('sums what each key spent in total and today (UTC)', () => {
    const now = 10 * DAY + 3600;
    const s = new Spend(() => now * 1000);
    s.add(entry('team', 1, 9 * DAY + 10));
    s.add(entry('team', 2, 10 * DAY + 10));
    s.add(entry('team', null, 10 * DAY + 20));
    s.add(entry(null, 5, 10 * DAY + 20));
    expect(s.of('team')).toEqual({ total: 3, today: 2 });
  });

  it('answers what a budgeted key has left, nothing for one without a budget', () => {
    const s = new Spend(() => 10 * DAY * 1000);
    s.add(entry('team', 1, 10 * DAY));
    expect(s.allowance(team({ daily: 5, total: 100 }))).toBe(4);
    expect(s.allowance({ keyId: 'team', admin: false })).toBeUndefined();
  });

  it('refuses a key at its daily budget until the next UTC day, and at its total one', () => {
    let now = (10 * DAY + 3600) * 1000;
    const s = new Spend(() => now);
    s.add(entry('team', 5, 10 * DAY + 60));
    const daily = thrown(() => s.allowance(team({ daily: 5 }))) as BudgetExceededError;
    expect(daily).toBeInstanceOf(BudgetExceededError);
    expect(daily.status).toBe(429);
    expect(daily.code).toBe('budget_exceeded');
    expect(daily.headers['retry-after']).toBe(String(DAY - 3600));
    now = (11 * DAY + 1) * 1000;
    expect(s.allowance(team({ daily: 5 }))).toBe(5);
    expect(thrown(() => s.allowance(team({ daily: 5, total: 5 })))).toBeInstanceOf(BudgetExceededError);
  });
});
