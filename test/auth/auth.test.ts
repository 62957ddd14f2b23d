import { eq, sql } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { mailOutbox, organizations, refreshTokens, users } from '../../src/db/schema/index.ts';
import { useTestApp } from '../harness.ts';

const t = useTestApp();

let n = 0;
const unique = () => `person${Date.now().toString(36)}${(n++).toString(36)}@Example.test`;
const ip = () => `10.1.${Math.floor(n / 200)}.${n % 200}`;

async function register(body: Partial<{ email: string; password: string; full_name: string; organization_name: string; language: string }> = {}) {
  const payload = { email: unique(), password: 'correct horse battery', full_name: 'Huda Saleh', organization_name: 'شركة الأمل', ...body };
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload, remoteAddress: ip() });
  return { res, payload };
}

const cookieOf = (res: { cookies: Array<{ name: string; value: string; httpOnly?: boolean; path?: string; sameSite?: string; secure?: boolean }> }) =>
  res.cookies.find((c) => c.name === 'knora_refresh_token');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('register', () => {
  it('creates a trial organisation with the caller as owner and signs in', async () => {
    const { res, payload } = await register({ language: 'ar' });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(body.user).toMatchObject({ email: payload.email.toLowerCase(), full_name: 'Huda Saleh', role: 'admin', is_org_owner: true, status: 'active', language: 'ar' });
    expect(body.organization).toMatchObject({ name: 'شركة الأمل', plan: 'trial', subscription_status: 'active', default_language: 'ar' });
    const trialDays = (new Date(body.organization.trial_ends_at).getTime() - Date.now()) / 86400_000;
    expect(trialDays).toBeGreaterThan(13.9);
    expect(trialDays).toBeLessThan(14.1);
    const claims = decodeJwt(body.access_token);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'email', 'exp', 'iat', 'is_org_owner', 'iss', 'jti', 'org_id', 'org_plan', 'role', 'sub'].sort());
    expect(claims).toMatchObject({ sub: body.user.id, role: 'admin', org_id: body.organization.id, org_plan: 'trial', is_org_owner: true });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'ES256', kid: expect.any(String) });
    const cookie = cookieOf(res)!;
    expect(cookie).toMatchObject({ httpOnly: true, path: '/', sameSite: 'Lax' });
    expect(cookie.secure).toBeFalsy();
    // Only a hash of the refresh token is stored.
    const stored = await t.deps.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, body.user.id));
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenHash).not.toBe(cookie.value);
    expect(JSON.stringify(stored)).not.toContain(cookie.value);
    const [u] = await t.deps.database.db.select().from(users).where(eq(users.id, body.user.id));
    expect(u!.passwordHash).toMatch(/^\$argon2id\$/);
  });

  it('treats emails case-insensitively: a taken email is 409 EMAIL_TAKEN', async () => {
    const { payload } = await register();
    const again = await register({ email: payload.email.toUpperCase() });
    expect(again.res.statusCode).toBe(409);
    expect(again.res.json().error.code).toBe('EMAIL_TAKEN');
  });

  it('rejects a short password and a bad email with 422', async () => {
    const { res } = await register({ password: 'short', email: 'nope' });
    expect(res.statusCode).toBe(422);
    const fields = res.json().error.details.fields.map((f: { field: string }) => f.field).sort();
    expect(fields).toEqual(['email', 'password']);
  });
});

describe('login', () => {
  it('signs in with any email case and answers unknown email and wrong password the same', async () => {
    const { payload } = await register();
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: payload.email.toUpperCase(), password: payload.password }, remoteAddress: ip() });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().access_token).toBeTruthy();
    const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: payload.email, password: 'wrong password!' }, remoteAddress: ip() });
    const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: unique(), password: 'wrong password!' }, remoteAddress: ip() });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
  });
});

describe('sessions', () => {
  it('rotates the refresh token, and reuse of a rotated one ends the family', async () => {
    const { res } = await register();
    const first = cookieOf(res)!.value;
    const r1 = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { knora_refresh_token: first }, remoteAddress: ip() });
    expect(r1.statusCode).toBe(200);
    const second = cookieOf(r1)!.value;
    expect(second).not.toBe(first);
    // The old token again: theft is presumed and the family (including `second`) is revoked.
    const reuse = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { knora_refresh_token: first }, remoteAddress: ip() });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().error.code).toBe('REFRESH_INVALID');
    const after = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { knora_refresh_token: second }, remoteAddress: ip() });
    expect(after.statusCode).toBe(401);
    const none = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: ip() });
    expect(none.statusCode).toBe(401);
  });

  it('logout revokes the access token and the refresh family and clears the cookie', async () => {
    const { res } = await register();
    const token = res.json().access_token as string;
    const cookie = cookieOf(res)!.value;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) })).statusCode).toBe(200);
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token), cookies: { knora_refresh_token: cookie } });
    expect(out.statusCode).toBe(204);
    expect(cookieOf(out)?.value ?? '').toBe('');
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
    expect(me.statusCode).toBe(401);
    expect(me.json().error.code).toBe('TOKEN_REVOKED');
    const refresh = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { knora_refresh_token: cookie }, remoteAddress: ip() });
    expect(refresh.statusCode).toBe(401);
  });

  it('rejects a missing, malformed or tampered token with 401', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer('not.a.jwt') })).json().error.code).toBe('TOKEN_INVALID');
    const { res } = await register();
    const token = res.json().access_token as string;
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), role: 'admin', org_plan: 'enterprise' })).toString('base64url');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(`${h}.${forged}.${s}`) })).statusCode).toBe(401);
    expect(p).toBeTruthy();
  });
});

describe('profile', () => {
  it('updates name and language, and a password change needs the current password and ends other sessions', async () => {
    const { res, payload } = await register();
    const token = res.json().access_token as string;
    const other = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: payload.email, password: payload.password }, remoteAddress: ip() })).json().access_token as string;
    const upd = await t.app.inject({ method: 'PUT', url: '/api/v1/auth/me', headers: bearer(token), payload: { full_name: 'هدى صالح', language: 'en' } });
    expect(upd.statusCode).toBe(200);
    expect(upd.json()).toMatchObject({ full_name: 'هدى صالح', language: 'en' });
    const missing = await t.app.inject({ method: 'PUT', url: '/api/v1/auth/me', headers: bearer(token), payload: { password: 'a brand new password' } });
    expect(missing.statusCode).toBe(422);
    const wrong = await t.app.inject({ method: 'PUT', url: '/api/v1/auth/me', headers: bearer(token), payload: { password: 'a brand new password', current_password: 'not it at all' } });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe('CURRENT_PASSWORD_INVALID');
    const changed = await t.app.inject({ method: 'PUT', url: '/api/v1/auth/me', headers: bearer(token), payload: { password: 'a brand new password', current_password: payload.password } });
    expect(changed.statusCode).toBe(200);
    const fresh = changed.json().access_token as string;
    expect(fresh).toBeTruthy();
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(other) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(fresh) })).statusCode).toBe(200);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: payload.email, password: 'a brand new password' }, remoteAddress: ip() });
    expect(login.statusCode).toBe(200);
  });
});

async function lastMail(to: string): Promise<{ body: string; language: string }> {
  const rows = await t.deps.database.db.select().from(mailOutbox).where(sql`lower(${mailOutbox.to}) = ${to.toLowerCase()}`);
  const m = rows.at(-1);
  if (!m) throw new Error(`no mail to ${to}`);
  return m;
}
const tokenIn = (body: string) => /token=([A-Za-z0-9_-]+)/.exec(body)![1]!;

describe('invitations and members', () => {
  it('invites by email, the token travels only by email, accepting signs in; used → 400 INVITE_INVALID', async () => {
    const owner = (await register()).res.json();
    const email = unique();
    const inv = await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(owner.access_token), payload: { email, role: 'manager' }, remoteAddress: ip() });
    expect(inv.statusCode).toBe(201);
    expect(inv.json()).toMatchObject({ email: email.toLowerCase(), role: 'manager' });
    expect(inv.body).not.toMatch(/token/i);
    const mail = await lastMail(email);
    expect(mail.language).toBe('ar');
    const token = tokenIn(mail.body);
    const accepted = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invite', payload: { token, password: 'manager password 1', full_name: 'Omar' } });
    expect(accepted.statusCode).toBe(201);
    expect(accepted.json().user).toMatchObject({ role: 'manager', org_id: owner.organization.id, is_org_owner: false });
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invite', payload: { token, password: 'manager password 1', full_name: 'Omar' } });
    expect(again.statusCode).toBe(400);
    expect(again.json().error.code).toBe('INVITE_INVALID');

    // A manager may invite members and managers, not admins; a member may not invite.
    const mgr = accepted.json().access_token as string;
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(mgr), payload: { email: unique(), role: 'admin' }, remoteAddress: ip() })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(mgr), payload: { email: unique(), role: 'member' }, remoteAddress: ip() })).statusCode).toBe(201);
  });

  it('an expired invitation is 400 INVITE_INVALID', async () => {
    const owner = (await register()).res.json();
    const email = unique();
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(owner.access_token), payload: { email, role: 'member' }, remoteAddress: ip() });
    const token = tokenIn((await lastMail(email)).body);
    await t.deps.database.db.execute(sql`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE lower(email) = ${email.toLowerCase()}`);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invite', payload: { token, password: 'long enough pass', full_name: 'X' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVITE_INVALID');
  });

  it('stops at the plan seat limit with 403 PLAN_LIMIT_REACHED', async () => {
    const owner = (await register()).res.json();
    // Fill the trial's 30 seats: the owner plus 29 members.
    const rows = Array.from({ length: 29 }, (_, i) => ({ id: crypto.randomUUID(), orgId: owner.organization.id, email: `seat${i}-${unique()}`, fullName: 'Seat', role: 'member' as const }));
    await t.deps.database.db.insert(users).values(rows);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(owner.access_token), payload: { email: unique(), role: 'member' }, remoteAddress: ip() });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'PLAN_LIMIT_REACHED', details: { limit: 30, required_plan: 'growth' } });
  });

  it('lists members with filters, changes roles with the rules, and deactivation stops tokens at once', async () => {
    const ownerRes = (await register()).res.json();
    const owner = ownerRes.access_token as string;
    const email = unique();
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: bearer(owner), payload: { email, role: 'member' }, remoteAddress: ip() });
    const member = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invite', payload: { token: tokenIn((await lastMail(email)).body), password: 'member password 1', full_name: 'M' } })).json();
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/auth/members?role=member', headers: bearer(owner) });
    expect(list.json().items.map((u: { id: string }) => u.id)).toEqual([member.user.id]);
    expect(list.json().pagination.total).toBe(1);

    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/auth/members/${member.user.id}`, headers: bearer(member.access_token), payload: { role: 'admin' } })).statusCode).toBe(403);
    const own = await t.app.inject({ method: 'PATCH', url: `/api/v1/auth/members/${ownerRes.user.id}`, headers: bearer(owner), payload: { role: 'member' } });
    expect(own.statusCode).toBe(403);
    const promoted = await t.app.inject({ method: 'PATCH', url: `/api/v1/auth/members/${member.user.id}`, headers: bearer(owner), payload: { role: 'manager' } });
    expect(promoted.json().role).toBe('manager');

    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(member.access_token) })).statusCode).toBe(200);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/members/${member.user.id}`, headers: bearer(owner) });
    expect(del.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(member.access_token) })).statusCode).toBe(401);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'member password 1' }, remoteAddress: ip() });
    expect(login.statusCode).toBe(403);
    expect(login.json().error.code).toBe('ACCOUNT_DEACTIVATED');
    const deactivated = await t.app.inject({ method: 'GET', url: '/api/v1/auth/members?status=deactivated', headers: bearer(owner) });
    expect(deactivated.json().items).toHaveLength(1);
  });

  it('answers 404 for a member of another organisation', async () => {
    const a = (await register()).res.json();
    const b = (await register()).res.json();
    for (const method of ['PATCH', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: `/api/v1/auth/members/${b.user.id}`, headers: bearer(a.access_token), ...(method === 'PATCH' ? { payload: { role: 'member' } } : {}) });
      expect(res.statusCode).toBe(404);
    }
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/auth/members', headers: bearer(a.access_token) });
    expect(list.json().items.map((u: { id: string }) => u.id)).toEqual([a.user.id]);
  });
});

describe('password reset', () => {
  it('always answers 202, resets once within the hour, and ends every session', async () => {
    const { res, payload } = await register();
    const token = res.json().access_token as string;
    const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/auth/forgot-password', payload: { email: unique() }, remoteAddress: ip() });
    const known = await t.app.inject({ method: 'POST', url: '/api/v1/auth/forgot-password', payload: { email: payload.email }, remoteAddress: ip() });
    expect(unknown.statusCode).toBe(202);
    expect(known.statusCode).toBe(202);
    expect(known.body).toBe(unknown.body);
    const reset = tokenIn((await lastMail(payload.email)).body);
    await new Promise((r) => setTimeout(r, 1000));
    const done = await t.app.inject({ method: 'POST', url: '/api/v1/auth/reset-password', payload: { token: reset, password: 'reset password 22' }, remoteAddress: ip() });
    expect(done.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) })).statusCode).toBe(401);
    const reuse = await t.app.inject({ method: 'POST', url: '/api/v1/auth/reset-password', payload: { token: reset, password: 'reset password 33' }, remoteAddress: ip() });
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json().error.code).toBe('RESET_INVALID');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: payload.email, password: 'reset password 22' }, remoteAddress: ip() })).statusCode).toBe(200);
  });
});

describe('guards', () => {
  it('answers 402 SUBSCRIPTION_REQUIRED on an ended trial, while auth routes keep working', async () => {
    const owner = (await register()).res.json();
    await t.deps.database.db.update(organizations).set({ trialEndsAt: new Date(Date.now() - 60_000) }).where(eq(organizations.id, owner.organization.id));
    const gated = await t.app.inject({ method: 'GET', url: '/api/v1/query/history', headers: bearer(owner.access_token) });
    if (gated.statusCode !== 404) {
      expect(gated.statusCode).toBe(402);
      expect(gated.json().error.code).toBe('SUBSCRIPTION_REQUIRED');
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(owner.access_token) })).statusCode).toBe(200);
    const keys = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(owner.access_token) });
    expect(keys.statusCode).toBe(402);
  });

  it('limits login to 10 a minute per address with Retry-After', async () => {
    const addr = '198.51.100.7';
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 11; i++) {
      last = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.test', password: 'whatever pass' }, remoteAddress: addr });
      codes.push(last.statusCode);
    }
    expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
    expect(codes[10]).toBe(429);
    expect(last!.json().error.code).toBe('RATE_LIMITED');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected.
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.test', password: 'whatever pass' }, remoteAddress: '198.51.100.8' })).statusCode).toBe(401);
  });

  it('limits refresh to 20 a minute per address', async () => {
    const addr = '198.51.100.9';
    let last;
    for (let i = 0; i < 21; i++) last = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: addr });
    expect(last!.statusCode).toBe(429);
  });
});
