import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/observability/logger.ts';
import { freshDatabase, startApp, testConfig, type TestApp } from '../harness.ts';

let t: TestApp;
let jwks: http.Server;
let key: CryptoKey;
const lines: string[] = [];
const CLIENT_ID = 'tadween-test.apps.googleusercontent.com';

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const pub = { ...(await exportJWK(pair.publicKey)), kid: 'test-kid', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [pub] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const { port } = jwks.address() as AddressInfo;
  const { database } = await freshDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  t = await startApp(database, testConfig({ GOOGLE_CLIENT_ID: CLIENT_ID, GOOGLE_JWKS_URL: `http://127.0.0.1:${port}/certs`, LOG_LEVEL: 'trace' }), { logger: createLogger('trace', sink) });
});
afterAll(async () => {
  await t?.close();
  await t?.database.close();
  jwks?.close();
});

const idToken = (claims: Record<string, unknown>, opts: { aud?: string; iss?: string; exp?: string } = {}) =>
  new SignJWT({ email_verified: true, name: 'Layla', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-kid' })
    .setIssuer(opts.iss ?? 'https://accounts.google.com')
    .setAudience(opts.aud ?? CLIENT_ID)
    .setSubject(String(claims.sub ?? '1234567890'))
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '10m')
    .sign(key);

describe('Google sign-in', () => {
  it('registers on first sign-in and signs in afterwards', async () => {
    const token = await idToken({ email: 'layla@example.test', sub: 'g-1' });
    const first = await t.app.inject({ method: 'POST', url: '/api/v1/auth/google', payload: { id_token: token }, remoteAddress: '10.9.0.1' });
    expect(first.statusCode).toBe(201);
    expect(first.json().user).toMatchObject({ email: 'layla@example.test', is_org_owner: true });
    const second = await t.app.inject({ method: 'POST', url: '/api/v1/auth/google', payload: { id_token: token }, remoteAddress: '10.9.0.1' });
    expect(second.statusCode).toBe(200);
    expect(second.json().user.id).toBe(first.json().user.id);
  });

  it.each([
    ['a wrong audience', { email: 'x@example.test' }, { aud: 'someone-else' }],
    ['a wrong issuer', { email: 'x@example.test' }, { iss: 'https://evil.example' }],
    ['an expired token', { email: 'x@example.test' }, { exp: '-1m' }],
    ['an unverified email', { email: 'x@example.test', email_verified: false }, {}],
  ])('refuses %s', async (_name, claims, opts) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/google', payload: { id_token: await idToken(claims, opts) }, remoteAddress: '10.9.0.2' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('GOOGLE_TOKEN_INVALID');
  });

  it('answers 400 GOOGLE_NOT_CONFIGURED without a client id', async () => {
    const { createTestApp } = await import('../harness.ts');
    const plain = await createTestApp();
    try {
      const res = await plain.app.inject({ method: 'POST', url: '/api/v1/auth/google', payload: { id_token: await idToken({ email: 'y@example.test' }) } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('GOOGLE_NOT_CONFIGURED');
    } finally {
      await plain.close();
    }
  });
});

describe('secrets never leak', () => {
  it('no response body or log line carries a password, a token or a provider key', async () => {
    const password = 'Sup3r-Secret-Passw0rd';
    const reg = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'leak@example.test', password, full_name: 'L', organization_name: 'Leak' }, remoteAddress: '10.9.1.1' });
    const access = reg.json().access_token as string;
    const refresh = reg.cookies.find((c) => c.name === 'knora_refresh_token')!.value;
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'leak@example.test', password }, remoteAddress: '10.9.1.1' });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { knora_refresh_token: refresh }, remoteAddress: '10.9.1.1' });
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${access}` } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/reset-password?token=query-token-value', payload: { token: 'body-token-value-123', password } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: { authorization: `Bearer ${access}` }, payload: { email: 'invitee@example.test', role: 'member' } });
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const secret of [password, access, refresh, 'query-token-value', 'body-token-value-123']) expect(all).not.toContain(secret);
    for (const body of [reg.body, me.body]) expect(body).not.toContain(password);
    expect(me.body).not.toMatch(/password_hash|\$argon2/);
  });
});
