import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { LexicalRetriever, refreshIndexStatistics } from '../../src/modules/query/query.retrieval.ts';
import { queryRows } from '../../src/platform/db/client.ts';
import { ANALYZER_VERSION } from '../../src/platform/text/tokens.ts';
import { createEntry, createOrg } from '../factories.ts';
import { freshDatabase, settle, startApp, testConfig, useTestApp } from '../harness.ts';

const t = useTestApp();

const K = '/api/v1/knowledge';

/** The organisation's statistics as stored: passage count and length, and every term's document frequency. */
async function statistics(orgId: string) {
  const [s] = await queryRows<{ chunks: number; terms: number }>(t.deps.database.db, sql`SELECT chunks, terms::int AS terms FROM search_stats WHERE org_id = ${orgId}`);
  const dfs = await queryRows<{ term: string; df: number }>(t.deps.database.db, sql`SELECT term, df FROM search_terms WHERE org_id = ${orgId} ORDER BY term`);
  return { chunks: s?.chunks ?? 0, terms: s?.terms ?? 0, dfs };
}

describe('index statistics', () => {
  it('stay exact through creates, edits, archiving, restoring, and a rebuild gives the same figures', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const u = org.owner;
    const a = await createEntry(t, u, 'Boiler start', 'Open the feed valve. Start the boiler pump. Check the boiler pressure.');
    const b = await createEntry(t, u, 'صيانة المضخة', 'افحص المضخة كل أسبوع. سجّل الضغط في الدفتر.');
    const c = await createEntry(t, u, 'Night shift', 'Lock the north gate at ten.');
    await createEntry(t, other.owner, 'Boiler elsewhere', 'boiler boiler boiler in another organisation');
    await settle(t);
    let s = await statistics(org.id);
    expect(s.chunks).toBe(3);
    expect(s.dfs.find((d) => d.term === 'boiler')).toEqual({ term: 'boiler', df: 1 });

    // An edit moves the frequencies by what changed; archiving removes the passage; restoring brings it back.
    expect((await t.app.inject({ method: 'PUT', url: `${K}/${c.id}`, headers: u.headers, payload: { content: 'Lock the boiler room at ten.', version: c.version } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: `${K}/${a.id}`, headers: u.headers })).statusCode).toBe(204);
    await settle(t);
    s = await statistics(org.id);
    expect(s.chunks).toBe(2);
    expect(s.dfs.find((d) => d.term === 'boiler')).toEqual({ term: 'boiler', df: 1 });
    expect(s.dfs.find((d) => d.term === 'gate')).toBeUndefined();
    expect(s.dfs.find((d) => d.term === 'valve')).toBeUndefined();
    const restored = await t.app.inject({ method: 'PUT', url: `${K}/${a.id}`, headers: u.headers, payload: { status: 'active' } });
    expect(restored.statusCode).toBe(200);
    await settle(t);

    const kept = await statistics(org.id);
    expect(kept.chunks).toBe(3);
    expect(kept.dfs.find((d) => d.term === 'boiler')).toEqual({ term: 'boiler', df: 2 });
    // Recomputing from the passages finds exactly what the indexer kept up to date.
    await refreshIndexStatistics(t.deps.database.db, org.id);
    expect(await statistics(org.id)).toEqual(kept);
    // The rebuild job too, and the other organisation's figures are untouched throughout.
    const otherBefore = await statistics(other.id);
    const res = await t.app.inject({ method: 'POST', url: `${K}/reindex`, headers: u.headers });
    expect(res.statusCode).toBe(202);
    await settle(t);
    expect(await t.deps.jobs.get(org.id, res.json().job_id)).toMatchObject({ status: 'succeeded', result: { entries: 3, chunks: 3 } });
    expect(await statistics(org.id)).toEqual(kept);
    expect(await statistics(other.id)).toEqual(otherBefore);
    expect(otherBefore.dfs.find((d) => d.term === 'boiler')).toEqual({ term: 'boiler', df: 1 });
    void b;
  });
});

describe('analyzer upgrades', () => {
  it('rebuild, when the next version starts, an index that an older analyzer made', async () => {
    const { database } = await freshDatabase();
    const config = testConfig();
    let app = await startApp(database, config);
    try {
      const org = await createOrg(app);
      const res = await app.app.inject({ method: 'POST', url: `${K}/`, headers: org.owner.headers, payload: { title: 'ترانيم', content: 'كتب لوثر ترنيمته الأشهر سنة 1529.' } });
      expect(res.statusCode).toBe(201);
      await settle(app);
      const search = async () => (await app.app.inject({ method: 'GET', url: `/api/v1/query/search?q=${encodeURIComponent('متى كتبت الترنيمة؟')}`, headers: org.owner.headers })).json().items;
      expect(await search()).toHaveLength(1);
      // As an earlier analyzer left it: the possessive ta kept (ترنيمت), which no longer matches a query.
      await database.db.execute(sql`UPDATE search_chunks SET terms = replace(terms, 'ترنيم ', 'ترنيمت ') WHERE org_id = ${org.id}`);
      await database.db.execute(sql`UPDATE search_stats SET analyzer = ${ANALYZER_VERSION - 1} WHERE org_id = ${org.id}`);
      expect(await search()).toHaveLength(0);
      await app.close();

      app = await startApp(database, config);
      await settle(app);
      const [stats] = await queryRows<{ analyzer: number }>(database.db, sql`SELECT analyzer FROM search_stats WHERE org_id = ${org.id}`);
      expect(stats!.analyzer).toBe(ANALYZER_VERSION);
      expect(await search()).toHaveLength(1);
      const jobs = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM jobs WHERE org_id = ${org.id} AND kind = 'search.reindex' AND status = 'succeeded'`);
      expect(jobs[0]!.n).toBe(1);
      // Current again: the next start queues nothing.
      await app.close();
      app = await startApp(database, config);
      await settle(app);
      const after = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM jobs WHERE org_id = ${org.id} AND kind = 'search.reindex'`);
      expect(after[0]!.n).toBe(1);
    } finally {
      await app.close();
      await database.close();
    }
  });
});

describe('candidate selection at scale', () => {
  // Tiny limits stand in for a large knowledge base: the same paths run as at 100,000 passages.
  const tiny = { rarePostings: 2, pairTerms: 3, pairMaxShare: 1, pairRows: 1000, minPairs: 3, maxRows: 100, widenRows: 50 };

  it('finds a passage that holds two common question terms, and ranks it as a full scan would', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    for (let i = 0; i < 6; i++) await createEntry(t, u, `Filler ${i}`, `The pump room is on floor ${i}. Staff use the lift.`);
    for (let i = 0; i < 6; i++) await createEntry(t, u, `Other ${i}`, `The pressure gauge log is kept in office ${i}.`);
    const target = await createEntry(t, u, 'Pump pressure', 'Read the pump pressure every hour.');
    const long = 'The visitors gathered on the field behind the old hangar and watched the sky for a long time before anything happened at all that day.';
    for (let i = 0; i < 2; i++) await createEntry(t, u, `Airfield ${i}`, `${long} A zeppelin once landed here. ${long}`);
    await settle(t);
    const pruned = new LexicalRetriever(t.deps.database.db, undefined, tiny);
    const full = new LexicalRetriever(t.deps.database.db);
    const q = 'pump pressure zeppelin';
    // 'zeppelin' is rare and ORed, and finds two entries: as many as asked for, so no widening. 'pump' and
    // 'pressure' are common: of the passages holding only them, just those holding both are read, and the
    // short one that holds them side by side outranks the long ones that mention the zeppelin once.
    const a = await pruned.search(org.id, q, { limit: 2, filters: {} });
    const b = await full.search(org.id, q, { limit: 2, filters: {} });
    expect(a.hits.map((h) => h.entryId)).toEqual(b.hits.map((h) => h.entryId));
    expect(a.hits.map((h) => h.entryId)).toContain(target.id);
  });

  it('widens when filters leave fewer results than asked for', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const dept = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: u.headers, payload: { name: 'Maintenance' } })).json() as { id: string };
    for (let i = 0; i < 5; i++) await createEntry(t, u, `Valve ${i}`, `Valve check ${i}: turn the valve slowly. Unique marker q${i}x.`);
    const inDept = await createEntry(t, u, 'Maintenance', 'Turn it slowly.', { department_id: dept.id });
    await settle(t);
    const pruned = new LexicalRetriever(t.deps.database.db, undefined, tiny);
    // 'q0x' is the rarest term and selects only an entry outside the department, and the one inside holds
    // a single common term (no pair): widening reaches it.
    const res = await pruned.search(org.id, 'q0x valve slowly', { limit: 5, filters: { department_id: dept.id } });
    expect(res.hits.map((h) => h.entryId)).toEqual([inDept.id]);
  });
});
