import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';

let t: TestApp;
let r: Receiver;
beforeAll(async () => {
  t = await createTestApp();
  r = await startReceiver();
});
afterAll(async () => {
  await t?.close();
  await r?.close();
});

describe('webhooks from real changes', () => {
  it('delivers knowledge.created, knowledge.updated, member.invited and query.asked, signed', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const hook = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: org.owner.headers,
      payload: { url: r.url, events: ['knowledge.created', 'knowledge.updated', 'member.invited', 'query.asked'] },
    });
    expect(hook.statusCode).toBe(201);
    const secret = hook.json().secret as string;
    const e = (await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: org.owner.headers, payload: { title: 'Evented', content: 'content' } })).json();
    await t.app.inject({ method: 'PUT', url: `/api/v1/knowledge/${e.id}`, headers: org.owner.headers, payload: { title: 'Evented 2' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/invite', headers: org.owner.headers, payload: { email: 'new@example.test', role: 'member' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/query/ask', headers: org.owner.headers, payload: { question: 'anything?' } });
    await eventually(async () => r.received.length >= 4, 20_000, 'four deliveries');
    const wh = new Webhook(secret);
    const types = r.received.map((d) => {
      const verified = wh.verify(d.body, d.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
      return verified.type;
    });
    expect(types.sort()).toEqual(['knowledge.created', 'knowledge.updated', 'member.invited', 'query.asked']);
    expect(JSON.stringify(r.received.map((d) => d.body))).not.toMatch(/token=/);
  });
});
