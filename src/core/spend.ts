import { BudgetExceededError } from './errors.js';
import type { Principal } from './ownership.js';
import type { UsageEntry } from './ports.js';

const DAY_MS = 86_400_000;
const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);

interface KeySpend {
  total: number;
  /** The UTC day (days since the epoch) `today` sums. */
  day: number;
  today: number;
}

/**
 * What each key has spent, in total and today (UTC), summed in memory from the usage ledger at
 * start and from every finished process since: a budget check costs no read.
 */
export class Spend {
  private readonly byKey = new Map<string, KeySpend>();

  constructor(private readonly now: () => number = Date.now) {}

  add(entry: UsageEntry): void {
    if (entry.key_id === null || !entry.cost_usd) return;
    const day = utcDay(entry.finished_at * 1000);
    const s = this.byKey.get(entry.key_id) ?? { total: 0, day, today: 0 };
    s.total += entry.cost_usd;
    if (day > s.day) Object.assign(s, { day, today: 0 });
    if (day === s.day) s.today += entry.cost_usd;
    this.byKey.set(entry.key_id, s);
  }

  /** What the key has spent in total and today, in USD. */
  of(keyId: string): { total: number; today: number } {
    const s = this.byKey.get(keyId);
    if (!s) return { total: 0, today: 0 };
    return { total: s.total, today: s.day === utcDay(this.now()) ? s.today : 0 };
  }

  /**
   * What the principal's key may still spend (the smaller of what its daily and total budgets
   * leave), undefined without a budget; throws 429 `budget_exceeded` when that is nothing.
   */
  allowance(principal: Principal): number | undefined {
    const budget = principal.policy?.budgetUsd;
    if (!budget || principal.keyId === null) return undefined;
    const spent = this.of(principal.keyId);
    const now = this.now();
    if (budget.total !== undefined && spent.total >= budget.total) {
      // Only a new config lifts it: a day is as good a time as any to ask again.
      throw new BudgetExceededError(`this API key has spent its total budget of $${budget.total} ($${spent.total.toFixed(4)} spent)`, DAY_MS / 1000);
    }
    if (budget.daily !== undefined && spent.today >= budget.daily) {
      const untilTomorrow = Math.ceil(((utcDay(now) + 1) * DAY_MS - now) / 1000);
      throw new BudgetExceededError(`this API key has spent its daily budget of $${budget.daily} ($${spent.today.toFixed(4)} spent today, UTC)`, untilTomorrow);
    }
    const left = [budget.total === undefined ? Infinity : budget.total - spent.total, budget.daily === undefined ? Infinity : budget.daily - spent.today];
    return Math.min(...left);
  }
}
