import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AppError } from '../http/errors.ts';

/** Per-app Prometheus registry with HTTP request counters and latency histograms. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route template and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by method, route template and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, requests, duration };
}
export type Metrics = ReturnType<typeof createMetrics>;

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Records every response and serves `/metrics`, behind basic auth when configured. */
export function installMetrics(app: FastifyInstance, metrics: Metrics, basicAuth?: { user: string; pass: string }): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });

  app.get(
    '/metrics',
    {
      schema: {
        hide: true,
        summary: 'Prometheus metrics',
      },
    },
    async (request, reply) => {
      if (basicAuth) {
        const h = request.headers.authorization ?? '';
        const m = /^Basic\s+(.+)$/i.exec(h);
        const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
        const i = decoded.indexOf(':');
        const ok = i > 0 && safeEqual(decoded.slice(0, i), basicAuth.user) && safeEqual(decoded.slice(i + 1), basicAuth.pass);
        if (!ok) throw new AppError('UNAUTHORIZED', {}, {}, { 'www-authenticate': 'Basic realm="metrics"' });
      }
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
