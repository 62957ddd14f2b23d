import { Writable } from 'node:stream';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageOf, pageRequest, PaginationQuery, UuidList } from '../../src/platform/http/pagination.ts';
import { createLogger } from '../../src/platform/observability/logger.ts';
import { freshDatabase, startApp, testConfig, type TestApp } from '../harness.ts';

const lines: string[] = [];
let t: TestApp;

beforeAll(async () => {
  const { database } = await freshDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const config = testConfig({ BODY_LIMIT_BYTES: '2048', LOG_LEVEL: 'info' });
  t = await startApp(database, config, {
    logger: createLogger('info', sink),
    configure(_deps, app) {
      app.post(
        '/test/people',
        {
          schema: {
            body: Type.Object({
              email: Type.String({ format: 'email' }),
              age: Type.Integer({ minimum: 0 }),
              name: Type.String({ minLength: 2 }),
              role: Type.Union([Type.Literal('member'), Type.Literal('admin')]),
            }),
          },
        },
        async (_request, reply) => reply.code(201).send({ ok: true }),
      );
      app.get('/test/boom', async () => {
        throw new Error('secret internal detail: SELECT * FROM users');
      });
      app.get(
        '/test/items',
        { schema: { querystring: Type.Object({ ...PaginationQuery, ids: UuidList() }) } },
        async (request) => {
          const q = request.query as { page?: number; per_page?: number; ids?: string[] };
          const page = pageRequest(q);
          const all = Array.from({ length: 45 }, (_, i) => i + 1);
          return { ...pageOf(all.slice(page.offset, page.offset + page.limit), all.length, page), ids: q.ids ?? [] };
        },
      );
    },
  });
});
afterAll(async () => {
  await t?.close();
  await t?.database.close();
});

const envelope = (body: unknown) => {
  const b = body as { error: { code: string; message: string; details: Record<string, unknown> } };
  expect(Object.keys(b)).toEqual(['error']);
  expect(typeof b.error.code).toBe('string');
  expect(typeof b.error.message).toBe('string');
  expect(typeof b.error.details).toBe('object');
  return b.error;
};
const ARABIC = /[\u0600-\u06FF]/;

describe('error envelope', () => {
  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
    expect(envelope(res.json()).code).toBe('NOT_FOUND');
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/test/people' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('POST');
    const e = envelope(res.json());
    expect(e.code).toBe('METHOD_NOT_ALLOWED');
    expect(e.details.allowed).toEqual(expect.arrayContaining(['POST']));
  });

  it('lists every invalid field with a reason (422 VALIDATION_ERROR)', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/people', payload: { email: 'not-an-email', age: -3, role: 'owner' } });
    expect(res.statusCode).toBe(422);
    const e = envelope(res.json());
    expect(e.code).toBe('VALIDATION_ERROR');
    const fields = e.details.fields as Array<{ field: string; reason: string }>;
    const byField = Object.fromEntries(fields.map((f) => [f.field, f.reason]));
    expect(Object.keys(byField).sort()).toEqual(['age', 'email', 'name', 'role']);
    expect(byField.name).toMatch(/required/);
    expect(byField.age).toMatch(/at least 0/);
    expect(byField.email).toMatch(/email/);
    for (const f of fields) expect(f.reason.length).toBeGreaterThan(3);
  });

  it('gives validation reasons in Arabic with Accept-Language: ar, the code unchanged', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/people', headers: { 'accept-language': 'ar-SA,ar;q=0.9,en;q=0.5' }, payload: {} });
    expect(res.statusCode).toBe(422);
    const e = envelope(res.json());
    expect(e.code).toBe('VALIDATION_ERROR');
    expect(e.message).toMatch(ARABIC);
    for (const f of e.details.fields as Array<{ reason: string }>) expect(f.reason).toMatch(ARABIC);
  });

  it('prefers the higher-quality language in Accept-Language', async () => {
    const ar = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'accept-language': 'en;q=0.4, ar;q=0.8' } });
    expect(envelope(ar.json()).message).toMatch(ARABIC);
    const en = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'accept-language': 'fr, en;q=0.9, ar;q=0.1' } });
    expect(envelope(en.json()).message).not.toMatch(ARABIC);
    expect(envelope(en.json()).code).toBe(envelope(ar.json()).code);
  });

  it('answers malformed JSON with 400 INVALID_JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/people', headers: { 'content-type': 'application/json' }, payload: '{"email": "a@b.c",' });
    expect(res.statusCode).toBe(400);
    expect(envelope(res.json()).code).toBe('INVALID_JSON');
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/people', payload: { name: 'x'.repeat(5000), email: 'a@b.co', age: 1, role: 'member' } });
    expect(res.statusCode).toBe(413);
    const e = envelope(res.json());
    expect(e.code).toBe('PAYLOAD_TOO_LARGE');
    expect(e.details.limit).toBe(2048);
  });

  it('answers an unsupported content type with 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/people', headers: { 'content-type': 'application/x-unknown' }, payload: 'x' });
    expect(res.statusCode).toBe(415);
    expect(envelope(res.json()).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers an unexpected exception with 500 INTERNAL_ERROR, leaks nothing and logs it with the request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/boom', headers: { 'x-request-id': 'req-boom-1' } });
    expect(res.statusCode).toBe(500);
    const e = envelope(res.json());
    expect(e.code).toBe('INTERNAL_ERROR');
    expect(res.body).not.toMatch(/secret internal detail|SELECT|at .*\.ts|stack/i);
    expect(e.details.request_id).toBe('req-boom-1');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === 'req-boom-1' && l.level === 50);
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toContain('secret internal detail');
  });
});

describe('pagination', () => {
  const get = async (qs: string) => (await t.app.inject({ method: 'GET', url: `/test/items${qs}` })).json();

  it('defaults to page 1 of 20 with the envelope', async () => {
    const body = await get('');
    expect(body.items).toHaveLength(20);
    expect(body.pagination).toEqual({ page: 1, per_page: 20, total: 45, total_pages: 3, has_next: true, has_prev: false });
  });

  it.each([
    ['?page=0', 1, 20],
    ['?page=-5', 1, 20],
    ['?page=abc', 1, 20],
    ['?per_page=0', 1, 1],
    ['?per_page=-5', 1, 1],
    ['?per_page=1000', 1, 100],
    ['?per_page=abc', 1, 20],
    ['?page=3&per_page=20', 3, 20],
  ])('clamps %s silently', async (qs, page, perPage) => {
    const body = await get(qs);
    expect(body.pagination.page).toBe(page);
    expect(body.pagination.per_page).toBe(perPage);
  });

  it('reports the last page and pages past the end', async () => {
    const last = await get('?page=3');
    expect(last.items).toHaveLength(5);
    expect(last.pagination).toMatchObject({ has_next: false, has_prev: true });
    const past = await get('?page=9');
    expect(past.items).toHaveLength(0);
    expect(past.pagination.total).toBe(45);
  });
});

describe('UUID-list filters', () => {
  const a = '0190b1d4-6c2e-7000-8000-000000000001';
  const b = '0190b1d4-6c2e-7000-8000-000000000002';

  it('accept repeated and comma-separated forms alike', async () => {
    const rep = (await t.app.inject({ method: 'GET', url: `/test/items?ids=${a}&ids=${b}` })).json();
    const csv = (await t.app.inject({ method: 'GET', url: `/test/items?ids=${a},${b}` })).json();
    expect(rep.ids).toEqual([a, b]);
    expect(csv.ids).toEqual([a, b]);
    const one = (await t.app.inject({ method: 'GET', url: `/test/items?ids=${a}` })).json();
    expect(one.ids).toEqual([a]);
  });

  it('reject an invalid UUID with 422 naming the field', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/test/items?ids=${a},not-a-uuid` });
    expect(res.statusCode).toBe(422);
    const e = envelope(res.json());
    expect((e.details.fields as Array<{ field: string }>)[0]!.field).toMatch(/^ids/);
  });
});

describe('request ids and trace context', () => {
  it('sets X-Request-ID on every response, errors included', async () => {
    for (const url of ['/api/health', '/nope']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('echoes a valid incoming X-Request-ID and replaces an invalid one', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/api/health', headers: { 'x-request-id': 'client-abc.123' } });
    expect(ok.headers['x-request-id']).toBe('client-abc.123');
    for (const bad of ['has spaces in it', 'x'.repeat(200), 'semi;colon']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/health', headers: { 'x-request-id': bad } });
      expect(res.headers['x-request-id']).not.toBe(bad);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('continues an incoming traceparent into the logs and the response', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.app.inject({ method: 'GET', url: '/api/health', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'trace-req-1' } });
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const mine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.request_id === 'trace-req-1');
    expect(mine.length).toBeGreaterThan(0);
    for (const l of mine) expect(l.trace_id).toBe(traceId);
  });

  it('ignores a malformed traceparent', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/health', headers: { traceparent: '00-zzzz-1-01' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(res.headers.traceparent).not.toContain('zzzz');
  });
});
