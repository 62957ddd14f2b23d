import type { FastifyInstance } from 'fastify';
import { AppError } from '../http/errors.ts';
import { RateLimiter, type RateLimitStore } from './rate-limit.ts';

/** A per-route limit: at most `max` requests per `windowSeconds` from one client address. */
export interface RouteRateLimit {
  max: number;
  windowSeconds: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RouteRateLimit;
  }
}

/**
 * Enforces `config.rateLimit` per route and client IP before anything else runs:
 * over the limit → 429 RATE_LIMITED with Retry-After.
 */
export function installRouteRateLimits(app: FastifyInstance, store: RateLimitStore): void {
  const limiters = new Map<string, RateLimiter>();
  app.addHook('onRequest', async (request, reply) => {
    const rl = request.routeOptions.config?.rateLimit;
    if (!rl) return;
    const route = `${request.method} ${request.routeOptions.url}`;
    let limiter = limiters.get(route);
    if (!limiter) {
      limiter = new RateLimiter(store, rl.max, rl.windowSeconds * 1000);
      limiters.set(route, limiter);
    }
    const r = await limiter.consume(`route:${route}:${request.ip}`);
    reply.header('x-ratelimit-limit', String(r.limit)).header('x-ratelimit-remaining', String(r.remaining)).header('x-ratelimit-reset', String(r.resetSeconds));
    if (!r.allowed) throw new AppError('RATE_LIMITED', { retry_after: r.resetSeconds }, {}, { 'retry-after': String(r.resetSeconds) });
  });
}
