import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/platform/db/client.ts';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { createOrg } from '../factories.ts';
import { BACKEND, createTestApp, type TestApp, settle } from '../harness.ts';

let t: TestApp;
let double: Awaited<ReturnType<typeof startOpenAiDouble>>;
beforeAll(async () => {
  // A toy embedding with one dimension per topic (coolant, invoices, the supplier). "refrigerant" is
  // placed with coolant; the question "invoice fifth" it gets wrong, beside the supplier and coolant.
  double = await startOpenAiDouble({
    embed: (input) => {
      if (input === 'invoice fifth') return [0.5, 0, 1, 0.01];
      const s = input.toLowerCase();
      return [s.includes('coolant') || s.includes('refrigerant') ? 1 : 0, s.includes('invoice') ? 1 : 0, s.includes('supplier') ? 1 : 0, 0.01];
    },
  });
  t = await createTestApp({ EMBEDDINGS_BASE_URL: double.url, EMBEDDINGS_MODEL: 'toy' });
});
afterAll(async () => {
  await t?.close();
  await double?.close();
});

describe('hybrid retrieval', () => {
  it('fuses dense and lexical results where pgvector exists, and stays lexical where it does not', async () => {
    const org = await createOrg(t);
    const h = org.owner.headers;
    const coolant = (await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: h, payload: { title: 'Chiller', content: 'Top up the coolant every month.' } })).json();
    await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: h, payload: { title: 'Billing', content: 'Send each invoice by the fifth.' } });
    await settle(t);
    const res = (await t.app.inject({ method: 'GET', url: '/api/v1/query/search?q=refrigerant', headers: h })).json();
    if (BACKEND === 'embedded') {
      expect(res.mode).toBe('hybrid');
      // No lexical match for "refrigerant": only the dense side can find the coolant entry.
      expect(res.items[0].entry_id).toBe(coolant.id);
      const [n] = await queryRows<{ n: number }>(t.deps.database.db, sql`SELECT count(*)::int AS n FROM chunk_embeddings WHERE org_id = ${org.id}`);
      expect(n?.n).toBe(2);
    } else {
      expect(await t.deps.database.hasVector()).toBe(false);
      expect(res.mode).toBe('lexical');
      expect(res.items).toEqual([]);
      const health = (await t.app.inject({ method: 'GET', url: '/api/health' })).json();
      expect(health.vector_search.available).toBe(false);
    }
  });

  it('keeps the lexical order for a question the best passage holds, and follows meaning for one it does not', async () => {
    if (BACKEND !== 'embedded') return; // no pgvector on the PostgreSQL server under test: lexical only, as above
    const org = await createOrg(t);
    const h = org.owner.headers;
    const dues = (await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: h, payload: { title: 'Dues', content: 'Send each invoice by the fifth.' } })).json();
    const supplier = (await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: h, payload: { title: 'Supplier', content: 'Coolant invoice questions go to the supplier.' } })).json();
    for (const content of ['Top up the coolant every month.', 'Coolant pumps need a yearly check.']) {
      await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: h, payload: { title: 'Chiller', content } });
    }
    await settle(t);
    const search = async (q: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/query/search?q=${encodeURIComponent(q)}`, headers: h })).json();

    // Both words are in "Dues", which the embedder ranks last, below "Supplier" and both chiller notes.
    // Weighed equally, the two rankings would put "Supplier" first; the passage holding the whole
    // question keeps "Dues" there.
    const held = await search('invoice fifth');
    expect(held.mode).toBe('hybrid');
    expect(held.items.slice(0, 2).map((i: { entry_id: string }) => i.entry_id)).toEqual([dues.id, supplier.id]);

    // "refrigerant" is in no entry: the question is mostly words the index does not hold, so the
    // dense side, which places it by the coolant supplier, decides.
    const unheld = await search('refrigerant invoice');
    expect(unheld.items[0].entry_id).toBe(supplier.id);
  });
});
