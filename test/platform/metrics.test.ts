import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../harness.ts';

let open: TestApp;
let guarded: TestApp;
beforeAll(async () => {
  open = await createTestApp();
  guarded = await createTestApp({ METRICS_BASIC_AUTH: 'scraper:s3cret' });
});
afterAll(async () => {
  await open?.close();
  await guarded?.close();
});

describe('/metrics', () => {
  it('exposes request counts and latency histograms by route template and status, and process metrics', async () => {
    await open.app.inject({ method: 'GET', url: '/api/health' });
    await open.app.inject({ method: 'GET', url: '/no/such/thing/123' });
    const res = await open.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const body = res.body;
    expect(body).toMatch(/^http_requests_total\{method="GET",route="\/api\/health",status_code="200"\} [1-9]/m);
    expect(body).toMatch(/^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/api\/health",status_code="200"\} \d+/m);
    expect(body).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/health",status_code="200"\} [1-9]/m);
    // An unknown URL is not a route template: it must not become a label value.
    expect(body).not.toContain('/no/such/thing/123');
    expect(body).toMatch(/status_code="404"/);
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it('requires the configured basic-auth credentials', async () => {
    expect((await guarded.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const wrong = await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Basic ${Buffer.from('scraper:nope').toString('base64')}` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('UNAUTHORIZED');
    const right = await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Basic ${Buffer.from('scraper:s3cret').toString('base64')}` } });
    expect(right.statusCode).toBe(200);
    expect(right.body).toContain('http_requests_total');
  });
});
