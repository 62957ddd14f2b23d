import { describe, expect, it } from 'vitest';
import { createOrg } from '../factories.ts';
import { createTestApp, useTestApp } from '../harness.ts';

const t = useTestApp({ SETUP_TOKEN: 'setup-token-123' });

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('self-hosted operator', () => {
  it('sets up once with the setup token, then signs in with its own audience', async () => {
    const status0 = (await t.app.inject({ method: 'GET', url: '/api/v1/instance/setup-status' })).json();
    expect(status0).toEqual({ bootstrapped: false, signup_enabled: true, google_enabled: false, locales: ['ar', 'en'] });
    const body = { email: 'ops@example.test', password: 'operator password' };
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/instance/setup', payload: body })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/instance/setup', payload: body, headers: { 'x-setup-token': 'wrong' } })).statusCode).toBe(403);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/instance/setup', payload: body, headers: { 'x-setup-token': 'setup-token-123' } });
    expect(ok.statusCode).toBe(201);
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/instance/setup', payload: body, headers: { 'x-setup-token': 'setup-token-123' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('ALREADY_SET_UP');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/instance/setup-status' })).json().bootstrapped).toBe(true);

    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/instance/login', payload: { email: body.email, password: 'nope nope nope' } });
    expect(bad.statusCode).toBe(401);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/instance/login', payload: body });
    expect(login.statusCode).toBe(200);
    const ops = login.json().access_token as string;

    // The operator token opens no organisation route; an organisation token opens no operator route.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(ops) })).statusCode).toBe(401);
    const org = await createOrg(t, { plan: 'trial' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/instance/organizations', headers: org.owner.headers })).statusCode).toBe(401);

    // Plans and status change on the organisation's next request.
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/instance/organizations', headers: bearer(ops) });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.find((o: { id: string }) => o.id === org.id)).toMatchObject({ plan: 'trial', member_count: 1 });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/locations', headers: org.owner.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/organizations/locations', headers: org.owner.headers, payload: { name: 'x' } })).statusCode).toBe(403);
    const up = await t.app.inject({ method: 'PATCH', url: `/api/v1/instance/organizations/${org.id}`, headers: bearer(ops), payload: { plan: 'enterprise', trial_ends_at: null } });
    expect(up.json()).toMatchObject({ plan: 'enterprise', trial_ends_at: null });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/organizations/locations', headers: org.owner.headers, payload: { name: 'x' } })).statusCode).toBe(201);
    await t.app.inject({ method: 'PATCH', url: `/api/v1/instance/organizations/${org.id}`, headers: bearer(ops), payload: { subscription_status: 'inactive' } });
    const blocked = await t.app.inject({ method: 'GET', url: '/api/v1/organizations/locations', headers: org.owner.headers });
    expect(blocked.statusCode).toBe(402);
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/instance/organizations/00000000-0000-7000-8000-000000000000`, headers: bearer(ops), payload: { plan: 'growth' } })).statusCode).toBe(404);

    // Sign-up rules.
    const put = await t.app.inject({ method: 'PUT', url: '/api/v1/instance/signup-settings', headers: bearer(ops), payload: { signup_enabled: true, allowed_email_domains: ['@Acme.test'] } });
    expect(put.json()).toEqual({ signup_enabled: true, allowed_email_domains: ['acme.test'] });
    const outside = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'a@other.test', password: 'long password 1', full_name: 'A', organization_name: 'O' } });
    expect(outside.statusCode).toBe(403);
    expect(outside.json().error.code).toBe('SIGNUP_DISABLED');
    const inside = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'b@acme.test', password: 'long password 1', full_name: 'B', organization_name: 'O' } });
    expect(inside.statusCode).toBe(201);
    await t.app.inject({ method: 'PUT', url: '/api/v1/instance/signup-settings', headers: bearer(ops), payload: { signup_enabled: false, allowed_email_domains: [] } });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'c@acme.test', password: 'long password 1', full_name: 'C', organization_name: 'O' } })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/instance/signup-settings', headers: bearer(ops) })).json().signup_enabled).toBe(false);
  });
});

describe('DEFAULT_PLAN', () => {
  it('gives new organisations the configured plan, enterprise without a trial end', async () => {
    const ent = await createTestApp({ DEFAULT_PLAN: 'enterprise' });
    try {
      const res = await ent.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'solo@company.test', password: 'long password 1', full_name: 'S', organization_name: 'Company' } });
      expect(res.json().organization).toMatchObject({ plan: 'enterprise', trial_ends_at: null });
    } finally {
      await ent.close();
    }
  });
});
