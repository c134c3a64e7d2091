// Circuit breaker per upstream host: after consecutive connection failures or timeouts, stop calling
// that host for a growing, capped back-off and answer from cache at once; then let exactly one probe through.
// Modeled on verdaccio's uplink max_fails/fail_timeout, with half-open probing.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly now?: () => number;
  readonly onChange?: (host: string, state: BreakerState) => void;
}

interface HostState {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number;
  backoffMs: number;
  probeInFlight: boolean;
  /** Set when a request to the host outlived the stale-wait deadline; cleared by any success. */
  slow: boolean;
  /** When the host last answered (any HTTP status); -Infinity before that. */
  answeredAt: number;
}

export type Admission = { allowed: true; probe: boolean } | { allowed: false; retryInMs: number };

export class CircuitBreaker {
  private readonly hosts = new Map<string, HostState>();
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  private get(host: string): HostState {
    let s = this.hosts.get(host);
    if (!s) {
      s = { state: 'closed', consecutiveFailures: 0, openedAt: 0, backoffMs: this.options.backoffMs, probeInFlight: false, slow: false, answeredAt: -Infinity };
      this.hosts.set(host, s);
    }
    return s;
  }

  private transition(host: string, s: HostState, to: BreakerState): void {
    if (s.state === to) return;
    s.state = to;
    this.options.onChange?.(host, to);
  }

  /** May a request go to `host` now? An open breaker past its back-off admits one probe (half-open). */
  admit(host: string): Admission {
    const s = this.get(host);
    if (s.state === 'closed') return { allowed: true, probe: false };
    const waited = this.now() - s.openedAt;
    if (s.state === 'open' && waited >= s.backoffMs) {
      this.transition(host, s, 'half_open');
      s.probeInFlight = true;
      return { allowed: true, probe: true };
    }
    if (s.state === 'half_open' && !s.probeInFlight) {
      s.probeInFlight = true;
      return { allowed: true, probe: true };
    }
    return { allowed: false, retryInMs: Math.max(0, s.backoffMs - waited) };
  }

  /** The breaker's clock (ms): when a request or attempt starts, for recordFailure and trip. */
  clock(): number {
    return this.now();
  }

  /**
   * A failure of a request that began before the host's latest answer says nothing new: the host answered
   * since (a probe closed the breaker while requests sent into the outage were still timing out).
   */
  private outdated(s: HostState, startedAt: number | undefined): boolean {
    return startedAt !== undefined && startedAt < s.answeredAt;
  }

  /** The host answered (any HTTP status): it is reachable. */
  recordSuccess(host: string): void {
    const s = this.get(host);
    s.answeredAt = this.now();
    s.consecutiveFailures = 0;
    s.probeInFlight = false;
    s.slow = false;
    s.backoffMs = this.options.backoffMs;
    this.transition(host, s, 'closed');
  }

  /** A connection failure or timeout of an attempt that started at `startedAt` (the breaker's clock). */
  recordFailure(host: string, startedAt?: number): void {
    const s = this.get(host);
    if (this.outdated(s, startedAt)) return;
    s.consecutiveFailures++;
    if (s.state === 'half_open') {
      // The probe failed: open again with a longer back-off.
      s.probeInFlight = false;
      s.backoffMs = Math.min(s.backoffMs * 2, this.options.maxBackoffMs);
      s.openedAt = this.now();
      this.transition(host, s, 'open');
      return;
    }
    if (s.state === 'closed' && s.consecutiveFailures >= this.options.failureThreshold) {
      s.openedAt = this.now();
      s.backoffMs = this.options.backoffMs;
      this.transition(host, s, 'open');
    }
  }

  /**
   * A request waited its whole deadline and the host never answered: open now rather than after
   * `failureThreshold` timeouts, so the requests behind it fail fast instead of each waiting a deadline.
   */
  trip(host: string, startedAt?: number): void {
    const s = this.get(host);
    if (s.state === 'open' || this.outdated(s, startedAt)) return;
    if (s.state === 'half_open') {
      this.recordFailure(host, startedAt);
      return;
    }
    s.consecutiveFailures = Math.max(s.consecutiveFailures, this.options.failureThreshold);
    s.openedAt = this.now();
    s.backoffMs = this.options.backoffMs;
    this.transition(host, s, 'open');
  }

  /** A probe ended without telling us anything (e.g. cancelled): let the next request probe. */
  releaseProbe(host: string): void {
    this.get(host).probeInFlight = false;
  }

  /** A request outlived the stale-wait deadline: serve stale copies at once until the host answers again. */
  recordSlow(host: string): void {
    this.get(host).slow = true;
  }

  /** True when requests that have a stale copy should not wait for this host at all. */
  isDegraded(host: string): boolean {
    const s = this.get(host);
    return s.state !== 'closed' || s.slow;
  }

  state(host: string): BreakerState {
    return this.get(host).state;
  }

  snapshot(): Record<string, { state: BreakerState; consecutiveFailures: number; backoffMs: number; slow: boolean }> {
    const out: Record<string, { state: BreakerState; consecutiveFailures: number; backoffMs: number; slow: boolean }> = {};
    for (const [host, s] of this.hosts) {
      out[host] = { state: s.state, consecutiveFailures: s.consecutiveFailures, backoffMs: s.backoffMs, slow: s.slow };
    }
    return out;
  }
}

/**
 * Delay before retry number `attempt` (1-based): exponential from `baseMs`, full jitter, capped; a
 * Retry-After from upstream wins when it is longer, up to the cap. Pure given `random`.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  options: { capMs?: number; retryAfterMs?: number | null; random?: () => number } = {},
): number {
  const cap = options.capMs ?? 10_000;
  const exp = Math.min(cap, baseMs * 2 ** (attempt - 1));
  const jittered = exp / 2 + (options.random ?? Math.random)() * (exp / 2);
  const retryAfter = options.retryAfterMs ?? 0;
  return Math.round(Math.min(cap, Math.max(jittered, retryAfter)));
}

/** Parses a Retry-After header (delta seconds or HTTP date) into milliseconds from `now`. */
export function parseRetryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}
