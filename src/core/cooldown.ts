/** When a target that keeps failing is left alone (GATEWAY_CONFIG `cooldown`). */
export interface CooldownPolicy {
  /** Failures in a row that put a target in cooldown. */
  failures: number;
  seconds: number;
}

interface TargetState {
  failures: number;
  /** Until when (ms) the target is skipped. */
  until: number;
}

/**
 * Targets that failed `failures` times in a row (retryable failures: a bad request says nothing of
 * the upstream) are skipped for `seconds`, so a dead upstream does not cost every request a timeout.
 * After that it is tried again (half-open): one success closes it, one failure opens it again.
 */
export class Cooldowns {
  private readonly targets = new Map<string, TargetState>();

  constructor(
    private policy: CooldownPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  setPolicy(policy: CooldownPolicy): void {
    this.policy = policy;
  }

  /**
   * The targets to try, in their order, cooling ones left out; when every one is cooling, the one
   * whose cooldown ends first is tried anyway (a request is never refused for cooldown alone).
   */
  order<T>(targets: readonly T[], name: (t: T) => string): T[] {
    const open = targets.filter((t) => !this.cooling(name(t)));
    if (open.length) return open;
    const soonest = [...targets].sort((a, b) => this.until(name(a)) - this.until(name(b)))[0];
    return soonest === undefined ? [] : [soonest];
  }

  /** Whether the target is cooling down now (for stats and headers). */
  cooling(target: string): boolean {
    const s = this.targets.get(target);
    return s !== undefined && s.failures >= this.policy.failures && s.until > this.now();
  }

  succeeded(target: string): void {
    this.targets.delete(target);
  }

  /** Counts a failure; true when it puts the target in cooldown (it was not cooling already). */
  failed(target: string): boolean {
    const cooling = this.cooling(target);
    const s = this.targets.get(target) ?? { failures: 0, until: 0 };
    s.failures++;
    if (s.failures >= this.policy.failures) s.until = this.now() + this.policy.seconds * 1000;
    this.targets.set(target, s);
    return !cooling && this.cooling(target);
  }

  private until(target: string): number {
    return this.targets.get(target)?.until ?? 0;
  }
}
