import { describe, expect, it } from 'vitest';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { addUser, createEntry, createOrg } from '../factories.ts';
import { createTestApp, settle, useTestApp } from '../harness.ts';

const t = useTestApp();

const K = '/api/v1/knowledge';
const Q = '/api/v1/query';
async function indexed(): Promise<void> {
  await settle(t);
}

describe('search', () => {
  it('finds entries in Arabic and English through spelling variants, never archived ones, and stays in step with edits', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const pump = await createEntry(t, u, 'Pump maintenance', 'The cooling pumps must be lubricated every week. Check the pressure gauge before starting.');
    const ar = await createEntry(t, u, 'صيانة المضخات', 'يجب تزييت مضخاتِ التبريد كلَّ أسبوع، وفحص مقياس الضغط قبل التشغيل.');
    const other = await createEntry(t, u, 'Holiday policy', 'Employees receive thirty days of annual leave.');
    await indexed();
    const en = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=${encodeURIComponent('how often to lubricate the pump?')}`, headers: u.headers })).json();
    expect(en.mode).toBe('lexical');
    expect(en.items[0]).toMatchObject({ entry_id: pump.id, title: 'Pump maintenance', verified: false, status: 'active' });
    expect(en.items[0].highlights.map((h: string) => h.toLowerCase())).toEqual(expect.arrayContaining(['pumps', 'lubricated']));
    expect(en.items.map((i: { entry_id: string }) => i.entry_id)).not.toContain(other.id);
    // Alef, ta marbuta and article variants, no diacritics in the query.
    const arRes = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=${encodeURIComponent('متى يتم تزييت المضخات؟')}`, headers: u.headers })).json();
    expect(arRes.items[0].entry_id).toBe(ar.id);
    expect(typeof arRes.took_ms).toBe('number');

    await t.app.inject({ method: 'DELETE', url: `${K}/${pump.id}`, headers: u.headers });
    await indexed();
    const after = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=pump`, headers: u.headers })).json();
    expect(after.items.map((i: { entry_id: string }) => i.entry_id)).not.toContain(pump.id);
  });

  it('applies entry filters, validates limit, and never crosses organisations', async () => {
    const a = await createOrg(t);
    const b = await createOrg(t);
    const tag = (await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: a.owner.headers, payload: { name: 'ops' } })).json();
    const tagged = await createEntry(t, a.owner, 'Valve A', 'valve procedure for the night shift', { tag_ids: [tag.id] });
    await createEntry(t, a.owner, 'Valve B', 'valve procedure for the day shift');
    await createEntry(t, b.owner, 'Valve C', 'valve procedure secret of B');
    await indexed();
    const filtered = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=valve&tag_ids=${tag.id}`, headers: a.owner.headers })).json();
    expect(filtered.items.map((i: { entry_id: string }) => i.entry_id)).toEqual([tagged.id]);
    const all = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=valve&limit=1`, headers: a.owner.headers })).json();
    expect(all.items).toHaveLength(1);
    const bRes = (await t.app.inject({ method: 'GET', url: `${Q}/search?q=valve`, headers: b.owner.headers })).json();
    expect(bRes.items.map((i: { title: string }) => i.title)).toEqual(['Valve C']);
    expect((await t.app.inject({ method: 'GET', url: `${Q}/search?q=valve&limit=51`, headers: a.owner.headers })).statusCode).toBe(422);
    expect((await t.app.inject({ method: 'GET', url: `${Q}/search?q=`, headers: a.owner.headers })).statusCode).toBe(422);
  });
});

describe('questions', () => {
  it('answers extractively with citations in the question language, or records a deduplicated knowledge gap', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const e = await createEntry(t, u, 'Boiler start-up', 'Open valve A first. Then wait thirty seconds before opening valve B. Never open both at once.');
    await indexed();
    const res = await t.app.inject({ method: 'POST', url: `${Q}/ask`, headers: u.headers, payload: { question: 'How long to wait before opening valve B?' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.answer).toContain('wait thirty seconds');
    expect(body.citations[0]).toMatchObject({ entry_id: e.id, title: 'Boiler start-up' });
    expect(body.citations[0].quote).toContain('thirty seconds');
    expect(body.language).toBe('en');
    expect(body.confidence).toBeGreaterThan(0.35);
    expect(body.gap_id).toBeUndefined();

    const gap1 = (await t.app.inject({ method: 'POST', url: `${Q}/ask`, headers: u.headers, payload: { question: 'ما هي سياسة الإجازات السنوية؟' } })).json();
    expect(gap1.language).toBe('ar');
    expect(gap1.answer).toMatch(/لا أعرف/);
    expect(gap1.citations).toEqual([]);
    expect(gap1.gap_id).toBeDefined();
    const gap2 = (await t.app.inject({ method: 'POST', url: `${Q}/ask`, headers: u.headers, payload: { question: 'ما هي سياسة الإجازات السنوية' } })).json();
    expect(gap2.gap_id).toBe(gap1.gap_id);
    const gaps = (await t.app.inject({ method: 'GET', url: `${Q}/gaps?status=open`, headers: u.headers })).json();
    expect(gaps.items).toHaveLength(1);
    expect(gaps.items[0]).toMatchObject({ id: gap1.gap_id, ask_count: 2, status: 'open' });

    const history = (await t.app.inject({ method: 'GET', url: `${Q}/history`, headers: u.headers })).json();
    expect(history.items).toHaveLength(3);
    expect(history.pagination.total).toBe(3);

    const member = await addUser(t, org);
    expect((await t.app.inject({ method: 'GET', url: `${Q}/gaps`, headers: member.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: `${Q}/history`, headers: member.headers })).json().items).toHaveLength(0);
    const resolved = await t.app.inject({ method: 'POST', url: `${Q}/gaps/${gap1.gap_id}/resolve`, headers: u.headers, payload: { entry_id: e.id } });
    expect(resolved.json()).toMatchObject({ status: 'resolved', resolved_entry_id: e.id });
    expect((await t.app.inject({ method: 'POST', url: `${Q}/gaps/${gap1.gap_id}/resolve`, headers: u.headers, payload: { entry_id: e.id } })).statusCode).toBe(409);
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'POST', url: `${Q}/gaps/${gap1.gap_id}/resolve`, headers: other.owner.headers, payload: { entry_id: e.id } })).statusCode).toBe(404);
  });

  it('streams the answer as Server-Sent Events: tokens, citations, done', async () => {
    const org = await createOrg(t);
    await createEntry(t, org.owner, 'Badge office', 'The badge office opens at eight in the morning on weekdays.');
    await indexed();
    const res = await t.app.inject({ method: 'POST', url: `${Q}/ask`, headers: { ...org.owner.headers, accept: 'text/event-stream' }, payload: { question: 'When does the badge office open?' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const events = res.body
      .trim()
      .split('\n\n')
      .map((block) => {
        const ev = /^event: (.*)$/m.exec(block)![1]!;
        return { ev, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as Record<string, unknown> };
      });
    const tokens = events.filter((e) => e.ev === 'token').map((e) => e.data.text).join('');
    expect(tokens).toContain('eight in the morning');
    expect(events.at(-2)!.ev).toBe('citations');
    expect((events.at(-2)!.data.citations as unknown[]).length).toBe(1);
    expect(events.at(-1)!.ev).toBe('done');
  });

  it('uses the configured LLM, grounded in the cited sources, and falls back on 502 when it fails', async () => {
    const double = await startOpenAiDouble({ chat: () => 'Wait thirty seconds before valve B [1].' });
    const llm = await createTestApp({ LLM_BASE_URL: double.url, LLM_MODEL: 'm' });
    try {
      const org = await createOrg(llm);
      await llm.app.inject({ method: 'POST', url: `${K}/`, headers: org.owner.headers, payload: { title: 'Boiler', content: 'Open valve A. Then wait thirty seconds before opening valve B.' } });
      await settle(llm);
      const res = (await llm.app.inject({ method: 'POST', url: `${Q}/ask`, headers: org.owner.headers, payload: { question: 'How long before opening valve B?' } })).json();
      expect(res.answer).toBe('Wait thirty seconds before valve B [1].');
      expect(res.citations).toHaveLength(1);
      const prompt = JSON.stringify(double.requests.find((r) => r.path.endsWith('/chat/completions'))!.body);
      expect(prompt).toContain('wait thirty seconds before opening valve B');
      double.behaviour.failWith = 500;
      const failed = await llm.app.inject({ method: 'POST', url: `${Q}/ask`, headers: org.owner.headers, payload: { question: 'How long before opening valve B?' } });
      expect(failed.statusCode).toBe(502);
      expect(failed.json().error.code).toBe('UPSTREAM_ERROR');
      expect(failed.json().error.details.fallback.answer).toContain('wait thirty seconds');
      expect(failed.json().error.details.fallback.citations).toHaveLength(1);
    } finally {
      await llm.close();
      await double.close();
    }
  });

  it('reports analytics to admins on Growth+', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    await t.app.inject({ method: 'POST', url: `${Q}/ask`, headers: org.owner.headers, payload: { question: 'anything at all?' } });
    const res = await t.app.inject({ method: 'GET', url: `${Q}/analytics`, headers: org.owner.headers });
    expect(res.statusCode).toBe(200);
    expect(res.json().totals).toMatchObject({ asked: 1, gaps: 1 });
    const starter = await createOrg(t, { plan: 'starter' });
    expect((await t.app.inject({ method: 'GET', url: `${Q}/analytics`, headers: starter.owner.headers })).statusCode).toBe(403);
    const mgr = await addUser(t, org, { role: 'manager' });
    expect((await t.app.inject({ method: 'GET', url: `${Q}/analytics`, headers: mgr.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: `${Q}/analytics?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, headers: org.owner.headers })).statusCode).toBe(422);
  });

  it('rebuilds the index as a job (admins)', async () => {
    const org = await createOrg(t);
    await createEntry(t, org.owner, 'Reindex me', 'unique zebra content');
    await indexed();
    const res = await t.app.inject({ method: 'POST', url: `${K}/reindex`, headers: org.owner.headers });
    expect(res.statusCode).toBe(202);
    await t.deps.jobs.drain(20_000);
    const job = await t.deps.jobs.get(org.id, res.json().job_id);
    expect(job).toMatchObject({ status: 'succeeded', result: { entries: 1, chunks: 1 } });
    expect((await t.app.inject({ method: 'GET', url: `${Q}/search?q=zebra`, headers: org.owner.headers })).json().items).toHaveLength(1);
  });
});
