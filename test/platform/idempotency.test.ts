import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/platform/db/ids.ts';
import { createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;
let handled = 0;
let release: (() => void) | undefined;

beforeAll(async () => {
  t = await createTestApp({}, {
    configure(_deps, app) {
      // A create route that counts how often its handler really runs.
      app.post(
        '/test/things',
        {
          config: { auth: {}, idempotent: true },
          schema: { body: Type.Object({ name: Type.String(), slow: Type.Optional(Type.Boolean()), fail: Type.Optional(Type.Boolean()) }) },
        },
        async (request, reply) => {
          const body = request.body as { name: string; slow?: boolean; fail?: boolean };
          if (body.slow) await new Promise<void>((r) => (release = r));
          handled += 1;
          if (body.fail) return reply.code(409).send({ error: { code: 'CONFLICT', message: 'no', details: {} } });
          return reply.code(201).send({ id: newId(), name: body.name, n: handled });
        },
      );
      app.post('/test/v1-things', { config: { auth: {}, idempotent: { replay: 'ok' } } }, async (_request, reply) => reply.code(201).send({ id: newId() }));
    },
  });
});
afterAll(async () => {
  await t?.close();
});

const post = (org: TestOrg, key: string | undefined, body: object, url = '/test/things') =>
  t.app.inject({ method: 'POST', url, headers: { ...org.owner.headers, ...(key !== undefined ? { 'idempotency-key': key } : {}) }, payload: body });

describe('Idempotency-Key', () => {
  it('replays the original status and body without running the handler again', async () => {
    const org = await createOrg(t);
    const first = await post(org, 'k-1', { name: 'a' });
    expect(first.statusCode).toBe(201);
    const before = handled;
    const again = await post(org, 'k-1', { name: 'a' });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(handled).toBe(before);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
  });

  it('treats the same JSON in another key order as the same request', async () => {
    const org = await createOrg(t);
    const a = await post(org, 'order', { name: 'x', slow: false });
    const b = await post(org, 'order', { slow: false, name: 'x' });
    expect(b.statusCode).toBe(201);
    expect(b.json()).toEqual(a.json());
  });

  it('rejects the same key with a different body (422 IDEMPOTENCY_KEY_REUSED)', async () => {
    const org = await createOrg(t);
    expect((await post(org, 'k-2', { name: 'a' })).statusCode).toBe(201);
    const res = await post(org, 'k-2', { name: 'b' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('answers 409 IDEMPOTENCY_IN_PROGRESS while the first request is still running', async () => {
    const org = await createOrg(t);
    const first = post(org, 'k-3', { name: 'slow', slow: true });
    // Wait until the first request holds the key and is inside its handler.
    for (let i = 0; i < 200 && !release; i++) await new Promise((r) => setTimeout(r, 10));
    const second = await post(org, 'k-3', { name: 'slow', slow: true });
    expect(second.statusCode).toBe(409);
    expect(second.json().error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    release!();
    release = undefined;
    expect((await first).statusCode).toBe(201);
    const third = await post(org, 'k-3', { name: 'slow', slow: true });
    expect(third.statusCode).toBe(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
  });

  it('keys are per organisation', async () => {
    const a = await createOrg(t);
    const b = await createOrg(t);
    const ra = await post(a, 'shared', { name: 'a' });
    const rb = await post(b, 'shared', { name: 'b' });
    expect(rb.statusCode).toBe(201);
    expect(rb.headers['idempotent-replayed']).toBeUndefined();
    expect(rb.json().id).not.toBe(ra.json().id);
  });

  it('releases the key when the request fails, so a retry is processed', async () => {
    const org = await createOrg(t);
    const before = handled;
    expect((await post(org, 'k-4', { name: 'f', fail: true })).statusCode).toBe(409);
    expect((await post(org, 'k-4', { name: 'f', fail: true })).statusCode).toBe(409);
    expect(handled).toBe(before + 2);
  });

  it('rejects a key longer than 255 characters', async () => {
    const org = await createOrg(t);
    const res = await post(org, 'x'.repeat(256), { name: 'a' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect((await post(org, 'x'.repeat(255), { name: 'a' })).statusCode).toBe(201);
  });

  it('without a key every request is processed', async () => {
    const org = await createOrg(t);
    const a = await post(org, undefined, { name: 'a' });
    const b = await post(org, undefined, { name: 'a' });
    expect(a.json().id).not.toBe(b.json().id);
  });

  it('replays with 200 on routes of the integration family', async () => {
    const org = await createOrg(t);
    const a = await post(org, 'v1', {}, '/test/v1-things');
    expect(a.statusCode).toBe(201);
    const b = await post(org, 'v1', {}, '/test/v1-things');
    expect(b.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
    expect(b.headers['idempotent-replayed']).toBe('true');
  });
});

describe('remembered responses', () => {
  it('are sealed at rest, since a create may return a secret shown once', async () => {
    const { idempotencyKeys } = await import('../../src/db/schema/index.ts');
    const org = await createOrg(t);
    const res = await post(org, 'sealed', { name: 'secret-name-xyz' });
    expect(res.statusCode).toBe(201);
    const rows = await t.deps.database.db.select().from(idempotencyKeys);
    const row = rows.find((r) => r.key === 'sealed');
    expect(row?.responseBody).toBeTruthy();
    expect(row!.responseBody).not.toContain('secret-name-xyz');
    expect((await post(org, 'sealed', { name: 'secret-name-xyz' })).json()).toEqual(res.json());
  });
});
