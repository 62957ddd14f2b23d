import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, organizations } from '../../src/db/schema/index.ts';
import { actorOf } from '../../src/platform/auth/guard.ts';
import { queryRows } from '../../src/platform/db/client.ts';
import { addUser, createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({}, {
    configure(_deps, app) {
      // Stand-ins for the /external routes: what they declare is what is under test here.
      const probe = (scope: string) => async (request: Parameters<typeof actorOf>[0]) => {
        const a = actorOf(request);
        return { org_id: a.orgId, key_id: a.apiKeyId, scope };
      };
      app.get('/test/external/read', { config: { auth: { methods: ['api_key'], minPlan: 'growth', feature: 'api_keys', scopes: ['knowledge:read'] } } }, probe('knowledge:read'));
      app.get('/test/external/write', { config: { auth: { methods: ['api_key'], minPlan: 'growth', feature: 'api_keys', scopes: ['knowledge:write'] } } }, probe('knowledge:write'));
      app.get('/test/external/both', { config: { auth: { methods: ['jwt', 'api_key'], scopes: ['query'] } } }, probe('query'));
    },
  });
});
afterAll(async () => {
  await t?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function createKey(org: TestOrg, body: Record<string, unknown> = { name: 'script' }, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: { ...org.owner.headers, ...headers }, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; key: string; prefix: string; last4: string; scopes: string[]; status: string };
}

describe('API key management', () => {
  it('shows the key once and stores only its hash', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: org.owner.headers, payload: { name: 'CRM sync', scopes: ['knowledge:read', 'query'] } });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const created = res.json() as { id: string; key: string; prefix: string; last4: string; scopes: string[]; status: string; created_by: string };
    expect(created.key).toMatch(/^kn_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(created.key.slice(3), 'base64url')).toHaveLength(32);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.key.endsWith(created.last4)).toBe(true);
    expect(created).toMatchObject({ scopes: ['knowledge:read', 'query'], status: 'active', created_by: org.owner.id });

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: org.owner.headers });
    expect(list.statusCode).toBe(200);
    const body = list.json() as { items: Array<Record<string, unknown>>; pagination: { total: number } };
    expect(body.pagination.total).toBe(1);
    expect(body.items[0]).toMatchObject({ id: created.id, name: 'CRM sync', prefix: created.prefix, last4: created.last4 });
    expect(body.items[0]).not.toHaveProperty('key');
    expect(list.body).not.toContain(created.key);

    // The table holds the SHA-256 of the key and never the key itself.
    const [row] = await t.deps.database.db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row!.keyHash).toBe(createHash('sha256').update(created.key).digest('hex'));
    const raw = await queryRows<Record<string, unknown>>(t.deps.database.db, sql`SELECT * FROM api_keys WHERE id = ${created.id}`);
    expect(JSON.stringify(raw)).not.toContain(created.key.slice(3));
  });

  it('defaults to read-only scopes and rejects unknown scopes and past expiry', async () => {
    const org = await createOrg(t);
    const k = await createKey(org);
    expect(k.scopes).toEqual(['knowledge:read', 'query']);
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: org.owner.headers, payload: { name: 'x', scopes: ['admin'] } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('VALIDATION_ERROR');
    const past = await t.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: org.owner.headers,
      payload: { name: 'x', expires_at: new Date(Date.now() - 1000).toISOString() },
    });
    expect(past.statusCode).toBe(422);
    expect(past.json().error.details.fields[0].field).toBe('expires_at');
  });

  it('is for managers and above on Growth and above, and never accepts a key itself', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const member = await addUser(t, org, { role: 'member' });
    const manager = await addUser(t, org, { role: 'manager' });
    const denied = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: member.headers });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.code).toBe('INSUFFICIENT_ROLE');
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: manager.headers, payload: { name: 'm' } });
    expect(ok.statusCode).toBe(201);

    const starter = await createOrg(t, { plan: 'starter' });
    const gated = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: starter.owner.headers, payload: { name: 'x' } });
    expect(gated.statusCode).toBe(403);
    expect(gated.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth', feature: 'api_keys' } });

    const key = (ok.json() as { key: string }).key;
    for (const [method, url] of [
      ['GET', '/api/v1/api-keys'],
      ['POST', '/api/v1/api-keys'],
      ['GET', '/api/v1/webhooks'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: bearer(key), payload: method === 'POST' ? { name: 'y' } : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('replays a create with the same Idempotency-Key instead of issuing a second key', async () => {
    const org = await createOrg(t);
    const a = await createKey(org, { name: 'once' }, { 'idempotency-key': 'create-key-1' });
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: { ...org.owner.headers, 'idempotency-key': 'create-key-1' }, payload: { name: 'once' } });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(a.id);
    const rows = await t.deps.database.db.select().from(apiKeys).where(eq(apiKeys.orgId, org.id));
    expect(rows).toHaveLength(1);
  });
});

describe('API key authentication', () => {
  it('authenticates a key to its organisation on routes that accept keys', async () => {
    const org = await createOrg(t);
    const k = await createKey(org);
    const res = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ org_id: org.id, key_id: k.id, scope: 'knowledge:read' });
    // A route that accepts both still takes a person's token.
    const jwt = await t.app.inject({ method: 'GET', url: '/test/external/both', headers: org.owner.headers });
    expect(jwt.statusCode).toBe(200);
    expect(jwt.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('answers 401 to unknown, malformed, revoked and expired keys', async () => {
    const org = await createOrg(t);
    const k = await createKey(org);
    const unknown = `kn_${'A'.repeat(43)}`;
    const forged = k.key.slice(0, -4) + (k.last4 === 'AAAA' ? 'BBBB' : 'AAAA');
    for (const [key, code] of [
      [unknown, 'API_KEY_INVALID'],
      ['kn_short', 'API_KEY_INVALID'],
      [forged, 'API_KEY_INVALID'],
    ] as const) {
      const res = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(key) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe(code);
    }

    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: org.owner.headers });
    expect(del.statusCode).toBe(204);
    const revoked = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error.code).toBe('API_KEY_REVOKED');
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: org.owner.headers });
    expect(list.json().items[0]).toMatchObject({ id: k.id, status: 'revoked', revoked_at: expect.any(String) });
    // Revoking again is harmless.
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: org.owner.headers })).statusCode).toBe(204);

    const soon = await createKey(org, { name: 'short-lived', expires_at: new Date(Date.now() + 3600_000).toISOString() });
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(soon.key) })).statusCode).toBe(200);
    await t.deps.database.db.update(apiKeys).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiKeys.id, soon.id));
    const expired = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(soon.key) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('API_KEY_EXPIRED');
  });

  it('enforces scopes with 403 INSUFFICIENT_SCOPE', async () => {
    const org = await createOrg(t);
    const readOnly = await createKey(org, { name: 'ro', scopes: ['knowledge:read'] });
    const res = await t.app.inject({ method: 'GET', url: '/test/external/write', headers: bearer(readOnly.key) });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'INSUFFICIENT_SCOPE', details: { required_scope: 'knowledge:write' } });
    const writer = await createKey(org, { name: 'rw', scopes: ['knowledge:write'] });
    expect((await t.app.inject({ method: 'GET', url: '/test/external/write', headers: bearer(writer.key) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(writer.key) })).statusCode).toBe(403);
  });

  it("reads the organisation's plan and subscription on every request", async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const k = await createKey(org);
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) })).statusCode).toBe(200);

    await t.deps.database.db.update(organizations).set({ plan: 'starter' }).where(eq(organizations.id, org.id));
    const downgraded = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) });
    expect(downgraded.statusCode).toBe(403);
    expect(downgraded.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth' } });

    await t.deps.database.db.update(organizations).set({ plan: 'trial', trialEndsAt: new Date(Date.now() - 1000) }).where(eq(organizations.id, org.id));
    const trialEnded = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) });
    expect(trialEnded.statusCode).toBe(402);
    expect(trialEnded.json().error.code).toBe('SUBSCRIPTION_REQUIRED');

    await t.deps.database.db.update(organizations).set({ plan: 'enterprise', trialEndsAt: null, subscriptionStatus: 'inactive' }).where(eq(organizations.id, org.id));
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) })).statusCode).toBe(402);

    await t.deps.database.db.update(organizations).set({ subscriptionStatus: 'active' }).where(eq(organizations.id, org.id));
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) })).statusCode).toBe(200);
  });

  it('allows 60 requests a minute per key, then 429 with Retry-After and X-RateLimit headers', async () => {
    const org = await createOrg(t);
    const k = await createKey(org);
    const other = await createKey(org, { name: 'other' });
    for (let i = 1; i <= 60; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('60');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(60 - i));
      expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    }
    const limited = await t.app.inject({ method: 'GET', url: '/test/external/read', headers: { ...bearer(k.key), 'accept-language': 'ar' } });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(limited.json().error.message).toMatch(/[\u0600-\u06FF]/);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-limit']).toBe('60');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe(String(retryAfter));
    // The limit is per key.
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(other.key) })).statusCode).toBe(200);

    // Only admitted requests are counted as usage.
    const usage = await t.app.inject({ method: 'GET', url: `/api/v1/api-keys/usage?key_id=${k.id}`, headers: org.owner.headers });
    expect(usage.statusCode).toBe(200);
    const u = usage.json() as { days: number; from: string; to: string; items: Array<{ key_id: string; total_requests: number; daily: Array<{ date: string; requests: number }> }> };
    expect(u.days).toBe(30);
    expect(u.items).toHaveLength(1);
    expect(u.items[0]!.daily).toHaveLength(30);
    expect(u.items[0]!.total_requests).toBe(60);
    expect(u.items[0]!.daily.at(-1)).toEqual({ date: new Date().toISOString().slice(0, 10), requests: 60 });
    expect(u.to).toBe(new Date().toISOString().slice(0, 10));
  });

  it('reports usage per key per day and last use', async () => {
    const org = await createOrg(t);
    const a = await createKey(org, { name: 'a' });
    const b = await createKey(org, { name: 'b' });
    for (let i = 0; i < 3; i++) await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(a.key) });
    await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(b.key) });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys/usage', headers: org.owner.headers });
    expect(res.statusCode).toBe(200);
    const totals = Object.fromEntries((res.json().items as Array<{ name: string; total_requests: number }>).map((i) => [i.name, i.total_requests]));
    expect(totals).toEqual({ a: 3, b: 1 });
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: org.owner.headers });
    for (const item of list.json().items as Array<{ last_used_at: string | null }>) expect(item.last_used_at).not.toBeNull();
  });
});

describe('API keys across organisations', () => {
  it("answers 404 for another organisation's key", async () => {
    const mine = await createOrg(t);
    const theirs = await createOrg(t);
    const k = await createKey(theirs);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: mine.owner.headers });
    expect(del.statusCode).toBe(404);
    expect(del.json().error.code).toBe('NOT_FOUND');
    const usage = await t.app.inject({ method: 'GET', url: `/api/v1/api-keys/usage?key_id=${k.id}`, headers: mine.owner.headers });
    expect(usage.statusCode).toBe(404);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: mine.owner.headers });
    expect(list.json().pagination.total).toBe(0);
    // Still working for its owner.
    expect((await t.app.inject({ method: 'GET', url: '/test/external/read', headers: bearer(k.key) })).json().org_id).toBe(theirs.id);
  });
});
