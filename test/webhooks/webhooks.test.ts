import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../src/db/schema/index.ts';
import type { Tx } from '../../src/platform/db/client.ts';
import { newId } from '../../src/platform/db/ids.ts';
import { addUser, createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';
import { eventually, startReceiver, type Behaviour, type Receiver } from './receiver.ts';

let t: TestApp;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await createTestApp({ WEBHOOK_RETRY_SCHEDULE: '1,1,1', WEBHOOK_TIMEOUT_MS: '500', WEBHOOK_DISABLE_AFTER_FAILURES: '4' });
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await t?.close();
});

async function receiver(behaviour?: Behaviour): Promise<Receiver> {
  const r = await startReceiver(behaviour);
  receivers.push(r);
  return r;
}

interface Created {
  id: string;
  secret: string;
  url: string;
  events: string[];
  enabled: boolean;
  status: string;
  consecutive_failures: number;
}

async function createWebhook(org: TestOrg, url: string, events: string[] = ['knowledge.created']): Promise<Created> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url, events, description: 'test' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Created;
}

/** Publishes an outbox event the way a module does: inside its transaction. */
async function publish(orgId: string, type: string, payload: Record<string, unknown>, opts: { rollback?: boolean } = {}): Promise<void> {
  await t.deps.database.db
    .transaction(async (tx) => {
      await t.deps.outbox.publish(tx as unknown as Tx, { orgId, aggregateType: 'test', aggregateId: newId(), type, payload });
      if (opts.rollback) throw new Error('rollback');
    })
    .catch((err: unknown) => {
      if (!opts.rollback) throw err;
    });
  t.deps.outbox.poke();
}

async function attemptsOf(endpointId: string) {
  return t.deps.database.db.select().from(webhookAttempts).where(eq(webhookAttempts.endpointId, endpointId)).orderBy(webhookAttempts.attempt);
}

async function deliveriesPage(org: TestOrg, id: string, query = '') {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${id}/deliveries${query}`, headers: org.owner.headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as {
    items: Array<{ id: string; delivery_id: string; event: string; attempt: number; status: string; response_code: number | null; duration_ms: number | null; error: { code: string; message: string } | null; attempted_at: string | null; next_attempt_at: string | null }>;
    pagination: { total: number };
  };
}

describe('webhook endpoints', () => {
  it('registers an endpoint with a secret shown once and lists it without the secret', async () => {
    const org = await createOrg(t);
    const r = await receiver();
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: r.url, events: ['knowledge.created', 'member.invited', 'knowledge.created'] } });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const created = res.json() as Created;
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(created.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(created).toMatchObject({ url: r.url, events: ['knowledge.created', 'member.invited'], enabled: true, status: 'enabled', consecutive_failures: 0 });

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: org.owner.headers });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(list.json().items[0]).not.toHaveProperty('secret');
    expect(list.body).not.toContain(created.secret.slice(6));
    // Sealed at rest, yet recoverable for signing.
    const [row] = await t.deps.database.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, created.id));
    expect(row!.secretSealed).not.toContain(created.secret.slice(6));
    expect(t.deps.sealer.open(row!.secretSealed)).toBe(created.secret);
  });

  it('refuses unknown events with 422 listing the valid ones', async () => {
    const org = await createOrg(t);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: 'http://127.0.0.1:9/x', events: ['knowledge.created', 'knowledge.exploded'] } });
    expect(res.statusCode).toBe(422);
    const err = res.json().error;
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.details.fields).toHaveLength(1);
    expect(err.details.fields[0].field).toBe('events.1');
    for (const e of ['knowledge.created', 'knowledge.updated', 'knowledge.deleted', 'member.invited', 'member.removed', 'query.asked']) expect(err.details.fields[0].reason).toContain(e);
    const none = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: 'http://127.0.0.1:9/x', events: [] } });
    expect(none.statusCode).toBe(422);
  });

  it('is for managers and above on Growth and above', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const member = await addUser(t, org, { role: 'member' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: member.headers })).json().error.code).toBe('INSUFFICIENT_ROLE');
    const starter = await createOrg(t, { plan: 'starter' });
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: starter.owner.headers, payload: { url: 'http://127.0.0.1:9/x', events: ['knowledge.created'] } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth', feature: 'webhooks' } });
  });

  it("answers 404 for another organisation's endpoint", async () => {
    const mine = await createOrg(t);
    const theirs = await createOrg(t);
    const wh = await createWebhook(theirs, 'http://127.0.0.1:9/x');
    for (const [method, url, payload] of [
      ['DELETE', `/api/v1/webhooks/${wh.id}`, undefined],
      ['GET', `/api/v1/webhooks/${wh.id}/deliveries`, undefined],
      ['POST', `/api/v1/webhooks/${wh.id}/test`, undefined],
      ['PATCH', `/api/v1/webhooks/${wh.id}`, { enabled: false }],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: mine.owner.headers, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('NOT_FOUND');
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: mine.owner.headers })).json().pagination.total).toBe(0);
    const still = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: theirs.owner.headers });
    expect(still.json().items[0]).toMatchObject({ id: wh.id, enabled: true });
  });

  it('deletes an endpoint', async () => {
    const org = await createOrg(t);
    const wh = await createWebhook(org, 'http://127.0.0.1:9/x');
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: org.owner.headers })).json().items).toHaveLength(0);
  });
});

describe('webhook delivery', () => {
  it('delivers committed events signed per Standard Webhooks, only to subscribed endpoints of the organisation', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const r = await receiver();
    const rOther = await receiver();
    const rUpdates = await receiver();
    const wh = await createWebhook(org, r.url, ['knowledge.created', 'knowledge.deleted']);
    await createWebhook(org, rUpdates.url, ['knowledge.updated']);
    await createWebhook(other, rOther.url, ['knowledge.created']);

    await publish(org.id, 'knowledge.created', { id: 'e1', title: 'سياسة الإجازات' }, { rollback: true });
    await publish(org.id, 'knowledge.created', { id: 'e2', title: 'سياسة الإجازات' });
    const [got] = await r.waitFor(1);
    const verified = r.verify(got!, wh.secret) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(verified).toMatchObject({ type: 'knowledge.created', data: { id: 'e2', title: 'سياسة الإجازات' } });
    expect(new Date(verified.timestamp).toISOString()).toBe(verified.timestamp);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(got!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    // Signed with another secret, verification fails.
    expect(() => r.verify(got!, `whsec_${Buffer.alloc(32, 1).toString('base64')}`)).toThrow();

    const page = await eventually(async () => {
      const p = await deliveriesPage(org, wh.id);
      return p.items[0]?.status === 'succeeded' ? p : undefined;
    });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ delivery_id: got!.headers['webhook-id'], event: 'knowledge.created', attempt: 1, status: 'succeeded', response_code: 204, error: null, next_attempt_at: null });
    expect(page.items[0]!.duration_ms).toBeGreaterThanOrEqual(0);

    // The rolled-back event never existed; the other organisation and the updates-only endpoint got nothing.
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received).toHaveLength(1);
    expect(rOther.received).toHaveLength(0);
    expect(rUpdates.received).toHaveLength(0);
  });

  it('retries a failing receiver with the same webhook-id until it succeeds', async () => {
    const org = await createOrg(t);
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    const wh = await createWebhook(org, r.url);
    await publish(org.id, 'knowledge.created', { id: 'retry-me' });
    const got = await r.waitFor(3, 20_000);
    const ids = new Set(got.map((g) => g.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const g of got) expect(r.verify(g, wh.secret)).toMatchObject({ data: { id: 'retry-me' } });
    expect(got.map((g) => g.body)).toEqual([got[0]!.body, got[0]!.body, got[0]!.body]);
    // Roughly one second (±20 % jitter) between attempts.
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(750);

    const page = await eventually(async () => {
      const p = await deliveriesPage(org, wh.id);
      return p.items.length === 3 && p.items[0]!.status === 'succeeded' ? p : undefined;
    });
    expect(page.items.map((i) => [i.attempt, i.status, i.response_code])).toEqual([
      [3, 'succeeded', 200],
      [2, 'failed', 500],
      [1, 'failed', 500],
    ]);
    expect(page.items[2]!.error).toMatchObject({ code: 'HTTP_STATUS' });
    expect(page.items[2]!.next_attempt_at).not.toBeNull();
    expect(new Set(page.items.map((i) => i.delivery_id)).size).toBe(1);
    const [delivery] = await t.deps.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, wh.id));
    expect(delivery!.status).toBe('succeeded');
    // A success resets the failure count.
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: org.owner.headers });
    expect(list.json().items[0]).toMatchObject({ consecutive_failures: 0, last_success_at: expect.any(String) });
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received).toHaveLength(3);
  });

  it('records a timeout when the receiver hangs', async () => {
    const org = await createOrg(t);
    const r = await receiver(() => 'hang');
    const wh = await createWebhook(org, r.url);
    await publish(org.id, 'knowledge.created', { id: 'slow' });
    const first = await eventually(async () => (await attemptsOf(wh.id)).find((a) => a.attempt === 1 && a.status === 'failed'), 10_000, 'timed-out attempt');
    expect(first.error).toMatchObject({ code: 'TIMEOUT' });
    expect(first.durationMs).toBeGreaterThanOrEqual(450);
    expect(first.durationMs).toBeLessThan(5000);
    expect(first.responseCode).toBeNull();
    expect(first.nextAttemptAt).not.toBeNull();
    // Stop the retries of this test.
    await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers });
  });

  it('disables an endpoint after consecutive failures and shows it in GET /webhooks', async () => {
    const org = await createOrg(t);
    const r = await receiver(() => 503);
    const wh = await createWebhook(org, r.url);
    await publish(org.id, 'knowledge.created', { id: 'doomed' });
    // 1 try + 3 retries = 4 failures = WEBHOOK_DISABLE_AFTER_FAILURES.
    await r.waitFor(4, 20_000);
    const item = await eventually(async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: org.owner.headers });
      const i = (res.json().items as Array<Record<string, unknown>>)[0]!;
      return i.enabled === false ? i : undefined;
    });
    expect(item).toMatchObject({ status: 'disabled', consecutive_failures: 4, disabled_at: expect.any(String), disabled_reason: expect.stringContaining('4 consecutive') });
    const attempts = await attemptsOf(wh.id);
    expect(attempts.map((a) => a.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(attempts[3]!.nextAttemptAt).toBeNull();

    // A disabled endpoint gets no new deliveries.
    await publish(org.id, 'knowledge.created', { id: 'ignored' });
    await new Promise((res) => setTimeout(res, 700));
    expect(r.received).toHaveLength(4);

    // Re-enabling clears the count.
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers, payload: { enabled: true } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ enabled: true, status: 'enabled', consecutive_failures: 0, disabled_at: null });
    await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers });
  });

  it('sends a synthetic webhook.test delivery once', async () => {
    const org = await createOrg(t);
    const r = await receiver();
    const wh = await createWebhook(org, r.url);
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${wh.id}/test`, headers: org.owner.headers });
    expect(res.statusCode).toBe(202);
    const body = res.json() as { delivery_id: string; status: string };
    expect(body.status).toBe('queued');
    const [got] = await r.waitFor(1);
    expect(got!.headers['webhook-id']).toBe(body.delivery_id);
    expect(r.verify(got!, wh.secret)).toMatchObject({ type: 'webhook.test', data: { webhook_id: wh.id } });
    const page = await eventually(async () => {
      const p = await deliveriesPage(org, wh.id, `?delivery_id=${body.delivery_id}`);
      return p.items[0]?.status === 'succeeded' ? p : undefined;
    });
    expect(page.items[0]).toMatchObject({ event: 'webhook.test', attempt: 1 });

    // A failing test is not retried and does not count towards disabling.
    const failing = await receiver(() => 500);
    await t.app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${wh.id}`, headers: org.owner.headers, payload: { url: failing.url } });
    await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${wh.id}/test`, headers: org.owner.headers });
    await failing.waitFor(1);
    const failed = await eventually(async () => {
      const p = await deliveriesPage(org, wh.id, '?status=failed');
      return p.items[0];
    });
    expect(failed).toMatchObject({ event: 'webhook.test', response_code: 500, next_attempt_at: null });
    await new Promise((res) => setTimeout(res, 1500));
    expect(failing.received).toHaveLength(1);
    const [ep] = await t.deps.database.db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, wh.id)));
    expect(ep!.consecutiveFailures).toBe(0);
  });

  it('paginates the delivery log', async () => {
    const org = await createOrg(t);
    const r = await receiver();
    const wh = await createWebhook(org, r.url, ['member.invited']);
    for (let i = 0; i < 3; i++) await publish(org.id, 'member.invited', { n: i });
    await r.waitFor(3);
    await eventually(async () => (await deliveriesPage(org, wh.id, '?status=succeeded')).pagination.total === 3);
    const p1 = await deliveriesPage(org, wh.id, '?per_page=2&page=1');
    const p2 = await deliveriesPage(org, wh.id, '?per_page=2&page=2');
    expect(p1.items).toHaveLength(2);
    expect(p2.items).toHaveLength(1);
    expect(p1.pagination).toMatchObject({ total: 3, total_pages: 2, has_next: true });
    expect(new Set([...p1.items, ...p2.items].map((i) => i.delivery_id)).size).toBe(3);
  });
});
