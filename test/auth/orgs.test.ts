import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orgByok } from '../../src/db/schema/index.ts';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { addUser, createOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;
let double: Awaited<ReturnType<typeof startOpenAiDouble>>;
beforeAll(async () => {
  t = await createTestApp();
  double = await startOpenAiDouble();
});
afterAll(async () => {
  await t?.close();
  await double?.close();
});

describe('organisations', () => {
  it('lists the plans publicly', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/organizations/plans' });
    expect(res.statusCode).toBe(200);
    const plans = res.json().items as Array<{ id: string; user_limit: number | null; price_cents: number }>;
    expect(plans.map((p) => p.id)).toEqual(['trial', 'starter', 'growth', 'enterprise']);
    expect(plans.map((p) => p.user_limit)).toEqual([30, 30, 150, null]);
    expect(plans.map((p) => p.price_cents)).toEqual([0, 4900, 14900, 39900]);
  });

  it('shows and updates the organisation; members may read, only admins may change', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const member = await addUser(t, org, { role: 'member' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/me', headers: member.headers })).json()).toMatchObject({ id: org.id, plan: 'starter' });
    const denied = await t.app.inject({ method: 'PATCH', url: '/api/v1/organizations/me', headers: member.headers, payload: { name: 'x' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({ code: 'INSUFFICIENT_ROLE', details: { required_role: 'admin' } });
    const ok = await t.app.inject({ method: 'PATCH', url: '/api/v1/organizations/me', headers: org.owner.headers, payload: { name: 'مؤسسة النور', default_language: 'ar', timezone: 'Asia/Riyadh' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ name: 'مؤسسة النور', default_language: 'ar', timezone: 'Asia/Riyadh' });
    const badTz = await t.app.inject({ method: 'PATCH', url: '/api/v1/organizations/me', headers: org.owner.headers, payload: { timezone: 'Mars/Olympus' } });
    expect(badTz.statusCode).toBe(422);
  });

  it('reports usage against limits', async () => {
    const org = await createOrg(t, { plan: 'trial' });
    await addUser(t, org);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/organizations/me/limits', headers: org.owner.headers });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ plan: 'trial', users: { used: 2, limit: 30 }, integrations: { used: 0, limit: 3 }, api_keys: { used: 0, limit: 0 } });
  });

  it('manages locations with role and plan gates, and another organisation’s location is 404', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const manager = await addUser(t, org, { role: 'manager' });
    const member = await addUser(t, org, { role: 'member' });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/organizations/locations', headers: member.headers, payload: { name: 'Plant 1' } })).statusCode).toBe(403);
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/locations', headers: manager.headers, payload: { name: 'Plant 1', name_ar: 'المصنع ١', timezone: 'Asia/Dubai' } });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/locations', headers: member.headers })).json().items).toHaveLength(1);
    const upd = await t.app.inject({ method: 'PUT', url: `/api/v1/organizations/locations/${id}`, headers: manager.headers, payload: { address: 'Jebel Ali' } });
    expect(upd.json()).toMatchObject({ name: 'Plant 1', address: 'Jebel Ali' });

    const other = await createOrg(t, { plan: 'growth' });
    expect((await t.app.inject({ method: 'PUT', url: `/api/v1/organizations/locations/${id}`, headers: other.owner.headers, payload: { name: 'x' } })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/organizations/locations/${id}`, headers: other.owner.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/locations', headers: other.owner.headers })).json().items).toHaveLength(0);

    const starter = await createOrg(t, { plan: 'starter' });
    const gated = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/locations', headers: starter.owner.headers, payload: { name: 'x' } });
    expect(gated.statusCode).toBe(403);
    expect(gated.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth', feature: 'locations' } });
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/organizations/locations/${id}`, headers: manager.headers })).statusCode).toBe(204);
  });
});

describe('BYOK', () => {
  it('is Enterprise and admin only', async () => {
    const growth = await createOrg(t, { plan: 'growth' });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/organizations/byok', headers: growth.owner.headers });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'enterprise', feature: 'byok' } });
    const ent = await createOrg(t, { plan: 'enterprise' });
    const manager = await addUser(t, ent, { role: 'manager' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/byok', headers: manager.headers })).statusCode).toBe(403);
  });

  it('stores the key encrypted, shows only its last 4 characters, and tests it against the provider', async () => {
    const org = await createOrg(t, { plan: 'enterprise' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/byok', headers: org.owner.headers })).statusCode).toBe(404);
    const key = 'sk-org-own-secret-key-7788';
    const put = await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/byok', headers: org.owner.headers, payload: { provider: 'openai-compatible', api_key: key, base_url: double.url, model: 'test-model' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ provider: 'openai-compatible', model: 'test-model', api_key_last4: '7788' });
    expect(put.body).not.toContain(key);
    const [row] = await t.deps.database.db.select().from(orgByok).where(eq(orgByok.orgId, org.id));
    expect(JSON.stringify(row)).not.toContain(key);
    const get = await t.app.inject({ method: 'GET', url: '/api/v1/organizations/byok', headers: org.owner.headers });
    expect(get.body).not.toContain(key);

    const test = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/byok/test', headers: org.owner.headers });
    expect(test.json()).toMatchObject({ ok: true, status: 200 });
    expect(double.requests.at(-1)?.headers.authorization).toBe(`Bearer ${key}`);
    expect((await t.deps.ai.llmFor(org.id))?.apiKey).toBe(key);

    const failing = await startOpenAiDouble({ failWith: 401 });
    await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/byok', headers: org.owner.headers, payload: { provider: 'openai-compatible', api_key: key, base_url: failing.url, model: 'm' } });
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/byok/test', headers: org.owner.headers });
    expect(bad.json()).toMatchObject({ ok: false, status: 401, error: 'forced failure' });
    await failing.close();

    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/organizations/byok', headers: org.owner.headers })).statusCode).toBe(204);
    expect(await t.deps.ai.llmFor(org.id)).toBeUndefined();
  });
});
