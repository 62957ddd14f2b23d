import { describe, expect, it } from 'vitest';
import { createOrg, type TestOrg } from '../factories.ts';
import { settle, useTestApp } from '../harness.ts';

const t = useTestApp();

async function key(org: TestOrg, scopes: string[]): Promise<{ authorization: string }> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: org.owner.headers, payload: { name: 'script', scopes } });
  return { authorization: `Bearer ${res.json().key as string}` };
}

describe('external API with API keys', () => {
  it('lists entries and answers questions like the product API, within the key scopes', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const e = (await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: org.owner.headers, payload: { title: 'Gate code', content: 'The north gate opens with the badge reader after 22:00.' } })).json();
    await settle(t);
    const full = await key(org, ['knowledge:read', 'query']);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/external/knowledge?per_page=5', headers: full });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((x: { id: string }) => x.id)).toEqual([e.id]);
    const ask = await t.app.inject({ method: 'GET', url: `/api/v1/external/query?q=${encodeURIComponent('How does the north gate open after 22:00?')}`, headers: full });
    expect(ask.statusCode).toBe(200);
    expect(ask.json().citations[0].entry_id).toBe(e.id);

    const readOnly = await key(org, ['knowledge:read']);
    const denied = await t.app.inject({ method: 'GET', url: '/api/v1/external/query?q=gate', headers: readOnly });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.code).toBe('INSUFFICIENT_SCOPE');
    // A person's token does not open the key surface, and a key does not open the person's routes.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/external/knowledge', headers: org.owner.headers })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/knowledge/', headers: full })).statusCode).toBe(401);
    // Another organisation's key sees only its own entries.
    const other = await createOrg(t, { plan: 'growth' });
    const otherKey = await key(other, ['knowledge:read']);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/external/knowledge', headers: otherKey })).json().items).toEqual([]);
  });
});
