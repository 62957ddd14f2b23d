/** Counts hits per key in fixed windows; one node (memory) or shared (a Redis store can implement this). */
export interface RateLimitStore {
  /** Counts one hit of `key` and returns the count in its current window and when that window ends (epoch ms). */
  hit(key: string, windowMs: number): Promise<{ count: number; resetAt: number }>;
}

/** The verdict on one request. */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}

/** In-process counters: enough for the embedded tier or a single API node. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = Date.now();

  async hit(key: string, windowMs: number): Promise<{ count: number; resetAt: number }> {
    const now = Date.now();
    if (now - this.lastSweep > windowMs) this.sweep(now);
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count += 1;
    return { count: w.count, resetAt: w.resetAt };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
  }
}

/** A limit of `limit` requests per `windowMs` per key over a store. */
export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Counts a request of `key` and says whether it is within the limit. */
  async consume(key: string): Promise<RateLimitResult> {
    const { count, resetAt } = await this.store.hit(key, this.windowMs);
    return {
      allowed: count <= this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - count),
      resetSeconds: Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)),
    };
  }
}
