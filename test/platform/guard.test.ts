import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../harness.ts';
import { addUser, createOrg } from '../factories.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, {
    configure(deps) {
      void deps;
    },
  });
});
afterAll(async () => {
  await t?.close();
});

describe('route guard', () => {
  it('needs a valid bearer token', async () => {
    // /api/health is public; guard tests use routes registered by the modules, so here only the token path.
    const org = await createOrg(t, { plan: 'growth' });
    const actor = await t.deps.guard.actorFromAccessToken(org.owner.token);
    expect(actor).toMatchObject({ orgId: org.id, userId: org.owner.id, role: 'admin', plan: 'growth', isOrgOwner: true, subscriptionActive: true });
    await expect(t.deps.guard.actorFromAccessToken(org.owner.token.slice(0, -3) + 'abc')).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('applies role, plan and subscription requirements', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const member = await addUser(t, org, { role: 'member' });
    const actor = await t.deps.guard.actorFromAccessToken(member.token);
    expect(() => t.deps.guard.authorize(actor, { minRole: 'manager' })).toThrowError(expect.objectContaining({ code: 'INSUFFICIENT_ROLE', details: { required_role: 'manager' } }));
    expect(() => t.deps.guard.authorize(actor, { minPlan: 'growth', feature: 'analytics' })).toThrowError(
      expect.objectContaining({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth', feature: 'analytics' } }),
    );
    expect(() => t.deps.guard.authorize(actor, {})).not.toThrow();
    const expired = await createOrg(t, { plan: 'trial', trialEndsAt: new Date(Date.now() - 1000) });
    const a2 = await t.deps.guard.actorFromAccessToken(expired.owner.token);
    expect(() => t.deps.guard.authorize(a2, {})).toThrowError(expect.objectContaining({ code: 'SUBSCRIPTION_REQUIRED' }));
    expect(() => t.deps.guard.authorize(a2, { subscription: false })).not.toThrow();
  });
});

describe('JWKS', () => {
  it('publishes the key that verifies access tokens', async () => {
    const { importJWK, jwtVerify, decodeProtectedHeader } = await import('jose');
    const org = await createOrg(t);
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json() as { keys: Array<{ kid: string; alg: string; d?: string }> };
    const { kid } = decodeProtectedHeader(org.owner.token);
    const jwk = keys.find((k) => k.kid === kid);
    expect(jwk).toBeDefined();
    expect(jwk!.d).toBeUndefined();
    const { payload } = await jwtVerify(org.owner.token, await importJWK(jwk!, jwk!.alg));
    expect(payload).toMatchObject({ sub: org.owner.id, org_id: org.id, role: 'admin', org_plan: 'growth', is_org_owner: true });
  });
});
