import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookEndpoints } from '../../src/db/schema/index.ts';
import { blockedReason } from '../../src/platform/net/addresses.ts';
import { checkOutboundUrl, guardedLookup, OutboundError, sendOutbound } from '../../src/platform/net/outbound.ts';
import { createOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';
import { eventually, startReceiver } from './receiver.ts';

describe('address classification', () => {
  it('refuses loopback, private, link-local, CGNAT, unique-local and metadata addresses', () => {
    const cases: Record<string, string | undefined> = {
      '127.0.0.1': 'loopback',
      '10.20.30.40': 'private',
      '172.16.0.1': 'private',
      '192.168.1.10': 'private',
      '169.254.10.1': 'link_local',
      '169.254.169.254': 'metadata',
      '100.64.1.1': 'cgnat',
      '0.0.0.0': 'unspecified',
      '::1': 'loopback',
      '::': 'unspecified',
      'fd00:ec2::254': 'metadata',
      'fd12:3456::1': 'unique_local',
      'fe80::1': 'link_local',
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:a9fe:a9fe': 'metadata',
      '64:ff9b::10.0.0.1': 'private',
      '2002:7f00:1::1': 'loopback',
      '8.8.8.8': undefined,
      '172.32.0.1': undefined,
      '2606:4700:4700::1111': undefined,
      '::ffff:1.1.1.1': undefined,
    };
    for (const [address, reason] of Object.entries(cases)) expect(blockedReason(address), address).toBe(reason);
  });

  it('checks scheme, credentials and https in production before any lookup', async () => {
    const strict = { allowPrivate: false, requireHttps: true };
    expect(await checkOutboundUrl('ftp://example.com/x', strict)).toEqual({ ok: false, reason: 'unsupported_scheme' });
    expect(await checkOutboundUrl('http://example.com/x', strict)).toEqual({ ok: false, reason: 'https_required' });
    expect(await checkOutboundUrl('https://user:pw@example.com/x', strict)).toEqual({ ok: false, reason: 'credentials_in_url' });
    expect(await checkOutboundUrl('not a url', strict)).toEqual({ ok: false, reason: 'invalid_url' });
    expect(await checkOutboundUrl('https://localhost:8443/x', strict)).toEqual({ ok: false, reason: 'loopback' });
    expect(await checkOutboundUrl('https://[::1]/x', strict)).toEqual({ ok: false, reason: 'loopback' });
    expect(await checkOutboundUrl('https://host.invalid/x', strict)).toEqual({ ok: false, reason: 'unresolvable' });
    expect((await checkOutboundUrl('http://127.0.0.1/x', { allowPrivate: true, requireHttps: false })).ok).toBe(true);
  });
});

describe('outbound requests', () => {
  it('does not follow redirects and caps the response body', async () => {
    const target = await startReceiver(() => 200);
    const r = await startReceiver((n) => (n === 1 ? { status: 302, headers: { location: target.url } } : { status: 200, body: 'x'.repeat(1024 * 1024) }));
    try {
      const policy = { allowPrivate: true, requireHttps: false };
      const redirected = await sendOutbound({ url: r.url, body: '{}', policy, timeoutMs: 2000, maxResponseBytes: 64 * 1024 });
      expect(redirected.status).toBe(302);
      const big = await sendOutbound({ url: r.url, body: '{}', policy, timeoutMs: 2000, maxResponseBytes: 64 * 1024 });
      expect(big.status).toBe(200);
      expect(big.body.length).toBe(64 * 1024);
      expect(big.truncated).toBe(true);
      expect(target.received).toHaveLength(0);
    } finally {
      await Promise.all([target.close(), r.close()]);
    }
  });

  it('refuses a private target at connection time unless allowed', async () => {
    const r = await startReceiver(() => 200);
    try {
      const err = await sendOutbound({ url: r.url, policy: { allowPrivate: false, requireHttps: false }, timeoutMs: 2000, maxResponseBytes: 1024 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutboundError);
      expect((err as OutboundError).code).toBe('URL_NOT_ALLOWED');
      // The lookup used when connecting refuses a name that (now) resolves to loopback.
      const looked = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup('localhost', { all: true }, (e) => resolve(e)));
      expect(looked?.code).toBe('URL_NOT_ALLOWED');
      expect(r.received).toHaveLength(0);
    } finally {
      await r.close();
    }
  });
});

describe('webhooks when private targets are not allowed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ WEBHOOKS_ALLOW_PRIVATE: 'false' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses private, loopback and metadata URLs with 422 URL_NOT_ALLOWED', async () => {
    const org = await createOrg(t);
    for (const [url, reason] of [
      ['http://127.0.0.1:8080/hook', 'loopback'],
      ['http://localhost/hook', 'loopback'],
      ['http://10.0.0.5/hook', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'metadata'],
      ['http://[fd00:ec2::254]/', 'metadata'],
      ['http://100.100.1.1/', 'cgnat'],
      ['gopher://example.com/', 'unsupported_scheme'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url, events: ['knowledge.created'] } });
      expect(res.statusCode, url).toBe(422);
      expect(res.json().error).toMatchObject({ code: 'URL_NOT_ALLOWED', details: { reason } });
    }
    const ar = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { ...org.owner.headers, 'accept-language': 'ar' },
      payload: { url: 'http://127.0.0.1/', events: ['knowledge.created'] },
    });
    expect(ar.json().error.message).toMatch(/[\u0600-\u06FF]/);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: org.owner.headers })).json().items).toHaveLength(0);
  });

  it('re-checks the target at delivery time', async () => {
    const org = await createOrg(t);
    const r = await startReceiver(() => 200);
    try {
      // Created while it pointed somewhere public (no request is made at creation), then re-pointed (as DNS can be).
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: 'https://93.184.215.14/hook', events: ['knowledge.created'] } });
      expect(created.statusCode).toBe(201);
      const wh = created.json() as { id: string };
      await t.deps.database.db.update(webhookEndpoints).set({ url: r.url }).where(eq(webhookEndpoints.id, wh.id));
      const test = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${wh.id}/test`, headers: org.owner.headers });
      expect(test.statusCode).toBe(202);
      const item = await eventually(async () => {
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${wh.id}/deliveries`, headers: org.owner.headers });
        const i = (res.json().items as Array<{ status: string; error: { code: string } | null }>)[0];
        return i?.status === 'failed' ? i : undefined;
      });
      expect(item.error?.code).toBe('URL_NOT_ALLOWED');
      expect(r.received).toHaveLength(0);
    } finally {
      await r.close();
    }
  });
});

describe('webhooks in production mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ NODE_ENV: 'production' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses plain http', async () => {
    const org = await createOrg(t);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: 'http://127.0.0.1:9/hook', events: ['knowledge.created'] } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'URL_NOT_ALLOWED', details: { reason: 'https_required' } });
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: 'https://127.0.0.1:9/hook', events: ['knowledge.created'] } });
    expect(ok.statusCode).toBe(201);
  });
});
