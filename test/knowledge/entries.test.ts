import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { activity, outboxEvents } from '../../src/db/schema/index.ts';
import { loadXquad } from '../../bench/xquad.ts';
import { detectLanguage } from '../../src/platform/text/language.ts';
import { addUser, createOrg, type TestOrg, type TestUser } from '../factories.ts';
import { useTestApp } from '../harness.ts';

const t = useTestApp();

const K = '/api/v1/knowledge';
const create = (u: TestUser, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: `${K}/`, headers: u.headers, payload });

describe('entries', () => {
  it('creates, reads, updates with versions and archives an entry', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const res = await create(u, { title: 'Boiler start-up', content: '# Steps\n\nOpen valve A, then B.', summary: 'How to start boiler 2' });
    expect(res.statusCode).toBe(201);
    const e = res.json();
    expect(e).toMatchObject({ title: 'Boiler start-up', language: 'en', status: 'active', verified: false, version: 1, source: { type: 'manual', ref: null }, author_id: u.id });

    const got = await t.app.inject({ method: 'GET', url: `${K}/${e.id}`, headers: u.headers });
    expect(got.json()).toMatchObject({ id: e.id, version_count: 1, author: { id: u.id }, related: [], tags: [] });

    const upd = await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: { ...u.headers, 'if-match': '1' }, payload: { content: 'Open valve A, wait 30 s, then B.', change_note: 'added the wait' } });
    expect(upd.statusCode).toBe(200);
    expect(upd.json().version).toBe(2);
    const stale = await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: u.headers, payload: { title: 'x', version: 1 } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error).toMatchObject({ code: 'VERSION_CONFLICT', details: { current_version: 2 } });
    const staleHeader = await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: { ...u.headers, 'if-match': '1' }, payload: { title: 'x' } });
    expect(staleHeader.statusCode).toBe(409);

    const versions = await t.app.inject({ method: 'GET', url: `${K}/${e.id}/versions`, headers: u.headers });
    expect(versions.json().items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.json().items[0]).toMatchObject({ change_note: 'added the wait', changed_by: u.id });
    const v1 = await t.app.inject({ method: 'GET', url: `${K}/${e.id}/versions/1`, headers: u.headers });
    expect(v1.json().snapshot.content).toBe('# Steps\n\nOpen valve A, then B.');
    expect((await t.app.inject({ method: 'GET', url: `${K}/${e.id}/versions/9`, headers: u.headers })).statusCode).toBe(404);

    expect((await t.app.inject({ method: 'DELETE', url: `${K}/${e.id}`, headers: u.headers })).statusCode).toBe(204);
    const list = await t.app.inject({ method: 'GET', url: `${K}/`, headers: u.headers });
    expect(list.json().items.map((x: { id: string }) => x.id)).not.toContain(e.id);
    const archived = await t.app.inject({ method: 'GET', url: `${K}/?status=archived`, headers: u.headers });
    expect(archived.json().items.map((x: { id: string }) => x.id)).toEqual([e.id]);
    const restored = await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: u.headers, payload: { status: 'active' } });
    expect(restored.json().status).toBe('active');
  });

  it('round-trips Arabic, English and mixed text byte for byte and detects the language', async () => {
    const org = await createOrg(t);
    const texts = [
      { title: 'إجراءات السلامة', content: 'يَجِبُ ارتداءُ الخوذةِ دائمًا ـــ في الموقع.\u200F ٣ قواعد 🚧', lang: 'ar' },
      { title: 'Safety', content: 'Always wear the helmet on site. Café naïve — “quotes”.', lang: 'en' },
      { title: 'Pump P-101 المضخة', content: 'The pump المضخة الرئيسية runs at 50 Hz; افحص الضغط كل ساعة before start.', lang: 'mixed' },
    ];
    for (const x of texts) {
      const res = await create(org.owner, { title: x.title, content: x.content });
      const got = (await t.app.inject({ method: 'GET', url: `${K}/${res.json().id}`, headers: org.owner.headers })).json();
      expect(got.title).toBe(x.title);
      expect(got.content).toBe(x.content);
      expect(Buffer.from(got.content).equals(Buffer.from(x.content))).toBe(true);
      expect(got.language).toBe(x.lang);
    }
  });

  it('detects the language of every XQuAD paragraph', () => {
    for (const lang of ['ar', 'en'] as const) for (const p of loadXquad(lang)) expect(detectLanguage(p.context)).toBe(lang);
  });

  it('rejects bad input with 422 and the field', async () => {
    const org = await createOrg(t);
    const long = await create(org.owner, { title: 'x'.repeat(301), content: 'ok' });
    expect(long.statusCode).toBe(422);
    expect(long.json().error.details.fields[0].field).toBe('title');
    const empty = await create(org.owner, { title: 'x' });
    expect(empty.json().error.details.fields[0].field).toBe('content');
    expect((await create(org.owner, { title: 'x', content: 'y', tag_ids: ['nope'] })).statusCode).toBe(422);
  });

  it('filters and sorts lists', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const tag = (await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: u.headers, payload: { name: 'Safety', name_ar: 'السلامة' } })).json();
    const dept = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: u.headers, payload: { name: 'Maintenance' } })).json();
    const expert = await addUser(t, org);
    const a = (await create(u, { title: 'Alpha', content: 'first entry about valves', tag_ids: [tag.id], department_id: dept.id, expert_ids: [expert.id] })).json();
    const b = (await create(u, { title: 'Bravo', content: 'second entry about pumps', department_id: dept.id })).json();
    const c = (await create(u, { title: 'شرح', content: 'مدخل عربي' })).json();
    const ids = async (qs: string) => (await t.app.inject({ method: 'GET', url: `${K}/?${qs}`, headers: u.headers })).json().items.map((x: { id: string }) => x.id);
    expect(await ids(`tag_ids=${tag.id}`)).toEqual([a.id]);
    expect(await ids(`department_id=${dept.id}&sort=title&order=asc`)).toEqual([a.id, b.id]);
    expect(await ids(`department_id=${dept.id}&tag_ids=${tag.id},${tag.id}`)).toEqual([a.id]);
    expect(await ids(`expert_id=${expert.id}`)).toEqual([a.id]);
    expect(await ids('language=ar')).toEqual([c.id]);
    expect(await ids('q=PUMPS')).toEqual([b.id]);
    expect(await ids(`author_id=${u.id}`)).toEqual([c.id, b.id, a.id]);
    expect(await ids('verified=true')).toEqual([]);
    expect(await ids('source_type=manual&per_page=2')).toEqual([c.id, b.id]);
    expect(await ids(`created_after=${encodeURIComponent(b.created_at)}&order=asc`)).toEqual([b.id, c.id]);
  });
});

describe('verification, review flags and relations', () => {
  it('verifies (manager+), clears verification when content changes, and keeps review flags', async () => {
    const org = await createOrg(t);
    const member = await addUser(t, org, { role: 'member' });
    const manager = await addUser(t, org, { role: 'manager' });
    const e = (await create(member, { title: 'Valve', content: 'Turn left.' })).json();
    const denied = await t.app.inject({ method: 'POST', url: `${K}/${e.id}/verify`, headers: member.headers, payload: {} });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({ code: 'INSUFFICIENT_ROLE', details: { required_role: 'manager' } });
    const badInterval = await t.app.inject({ method: 'POST', url: `${K}/${e.id}/verify`, headers: manager.headers, payload: { review_interval_days: 731 } });
    expect(badInterval.statusCode).toBe(422);
    const ok = await t.app.inject({ method: 'POST', url: `${K}/${e.id}/verify`, headers: manager.headers, payload: { review_interval_days: 30 } });
    expect(ok.json()).toMatchObject({ verified: true, verified_by: manager.id });
    const due = (new Date(ok.json().review_due_at).getTime() - Date.now()) / 86400_000;
    expect(Math.round(due)).toBe(30);
    const edited = await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: member.headers, payload: { content: 'Turn right.' } });
    expect(edited.json()).toMatchObject({ verified: false, verified_by: null });
    const flagged = await t.app.inject({ method: 'POST', url: `${K}/${e.id}/needs-review`, headers: member.headers, payload: { reason: 'valve was replaced' } });
    expect(flagged.json().status).toBe('needs_review');
    expect(flagged.json().flags).toEqual([expect.objectContaining({ user_id: member.id, reason: 'valve was replaced' })]);
    expect((await t.app.inject({ method: 'POST', url: `${K}/${e.id}/needs-review`, headers: member.headers, payload: {} })).statusCode).toBe(422);
  });

  it('relates entries with type and direction; self → 422; duplicate → 409; unlink', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const a = (await create(u, { title: 'A', content: 'a' })).json();
    const b = (await create(u, { title: 'B', content: 'b' })).json();
    expect((await t.app.inject({ method: 'POST', url: `${K}/${a.id}/relate`, headers: u.headers, payload: { related_id: a.id, relation_type: 'related' } })).statusCode).toBe(422);
    const r = await t.app.inject({ method: 'POST', url: `${K}/${a.id}/relate`, headers: u.headers, payload: { related_id: b.id, relation_type: 'supersedes', note: 'newer' } });
    expect(r.statusCode).toBe(201);
    expect((await t.app.inject({ method: 'POST', url: `${K}/${a.id}/relate`, headers: u.headers, payload: { related_id: b.id, relation_type: 'supersedes' } })).statusCode).toBe(409);
    const ga = (await t.app.inject({ method: 'GET', url: `${K}/${a.id}`, headers: u.headers })).json();
    expect(ga.related).toEqual([{ entry_id: b.id, title: 'B', status: 'active', relation_type: 'supersedes', direction: 'outgoing', note: 'newer' }]);
    const gb = (await t.app.inject({ method: 'GET', url: `${K}/${b.id}`, headers: u.headers })).json();
    expect(gb.related[0]).toMatchObject({ entry_id: a.id, direction: 'incoming' });
    expect((await t.app.inject({ method: 'DELETE', url: `${K}/${a.id}/relate/${b.id}`, headers: u.headers })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: `${K}/${a.id}/relate/${b.id}`, headers: u.headers })).statusCode).toBe(404);
  });
});

describe('tags, departments and categories', () => {
  it('tags are unique per organisation case-insensitively, counted, and deleting removes them from entries', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const member = await addUser(t, org);
    expect((await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: member.headers, payload: { name: 'x' } })).statusCode).toBe(403);
    const tag = (await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: u.headers, payload: { name: 'الصيانة', name_en: 'Maintenance' } })).json();
    expect((await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: u.headers, payload: { name: 'Pumps' } })).statusCode).toBe(201);
    const dup = await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: u.headers, payload: { name: 'PUMPS' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('TAG_EXISTS');
    const e = (await create(u, { title: 'x', content: 'y', tag_ids: [tag.id] })).json();
    const listed = (await t.app.inject({ method: 'GET', url: `${K}/tags`, headers: member.headers })).json().items;
    expect(listed.find((x: { id: string }) => x.id === tag.id).usage_count).toBe(1);
    expect((await t.app.inject({ method: 'DELETE', url: `${K}/tags/${tag.id}`, headers: u.headers })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `${K}/${e.id}`, headers: u.headers })).json().tag_ids).toEqual([]);
    // Another organisation may use the same name.
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: other.owner.headers, payload: { name: 'Pumps' } })).statusCode).toBe(201);
  });

  it('departments are created and updated by managers', async () => {
    const org = await createOrg(t);
    const d = await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: org.owner.headers, payload: { name: 'Operations', name_ar: 'العمليات', lead_user_id: org.owner.id } });
    expect(d.statusCode).toBe(201);
    const upd = await t.app.inject({ method: 'PUT', url: `${K}/departments/${d.json().id}`, headers: org.owner.headers, payload: { description: 'Plant operations' } });
    expect(upd.json()).toMatchObject({ name: 'Operations', description: 'Plant operations' });
    expect((await t.app.inject({ method: 'GET', url: `${K}/departments`, headers: org.owner.headers })).json().items).toHaveLength(1);
  });

  it('categories form a tree (Growth+), refuse cycles, deactivate and give their path', async () => {
    const starter = await createOrg(t, { plan: 'starter' });
    const gated = await t.app.inject({ method: 'GET', url: `${K}/categories`, headers: starter.owner.headers });
    expect(gated.statusCode).toBe(403);
    expect(gated.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth', feature: 'categories' } });
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    const root = (await t.app.inject({ method: 'POST', url: `${K}/categories`, headers: h, payload: { name: 'Plant' } })).json();
    const mid = (await t.app.inject({ method: 'POST', url: `${K}/categories`, headers: h, payload: { name: 'Boilers', parent_id: root.id } })).json();
    const leaf = (await t.app.inject({ method: 'POST', url: `${K}/categories`, headers: h, payload: { name: 'Start-up', name_ar: 'التشغيل', parent_id: mid.id } })).json();
    expect(leaf.depth).toBe(2);
    const flat = (await t.app.inject({ method: 'GET', url: `${K}/categories`, headers: h })).json().items;
    expect(flat.map((c: { name: string; depth: number }) => [c.name, c.depth])).toEqual([['Plant', 0], ['Boilers', 1], ['Start-up', 2]]);
    const tree = (await t.app.inject({ method: 'GET', url: `${K}/categories?format=tree`, headers: h })).json().items;
    expect(tree[0].children[0].children[0].name).toBe('Start-up');
    const cycle = await t.app.inject({ method: 'PUT', url: `${K}/categories/${root.id}`, headers: h, payload: { parent_id: leaf.id } });
    expect(cycle.statusCode).toBe(422);
    expect(cycle.json().error.code).toBe('CATEGORY_CYCLE');
    expect((await t.app.inject({ method: 'PUT', url: `${K}/categories/${root.id}`, headers: h, payload: { parent_id: root.id } })).statusCode).toBe(422);
    const path = (await t.app.inject({ method: 'GET', url: `${K}/categories/${leaf.id}/path`, headers: h })).json().items;
    expect(path.map((c: { name: string }) => c.name)).toEqual(['Plant', 'Boilers', 'Start-up']);
    expect((await t.app.inject({ method: 'DELETE', url: `${K}/categories/${mid.id}`, headers: h })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `${K}/categories`, headers: h })).json().items.map((c: { name: string }) => c.name)).toEqual(['Plant', 'Start-up']);
  });
});

describe('tenancy', () => {
  it('answers 404 for another organisation’s entries, tags, departments and categories, in paths and in bodies', async () => {
    const a: TestOrg = await createOrg(t, { plan: 'growth' });
    const b: TestOrg = await createOrg(t, { plan: 'growth' });
    const eb = (await create(b.owner, { title: 'B secret', content: 'b' })).json();
    const tagB = (await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: b.owner.headers, payload: { name: 'b-tag' } })).json();
    const deptB = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: b.owner.headers, payload: { name: 'b-dept' } })).json();
    const catB = (await t.app.inject({ method: 'POST', url: `${K}/categories`, headers: b.owner.headers, payload: { name: 'b-cat' } })).json();
    const ea = (await create(a.owner, { title: 'A', content: 'a' })).json();
    const h = a.owner.headers;
    for (const [method, url, payload] of [
      ['GET', `${K}/${eb.id}`, undefined],
      ['PUT', `${K}/${eb.id}`, { title: 'x' }],
      ['DELETE', `${K}/${eb.id}`, undefined],
      ['POST', `${K}/${eb.id}/verify`, {}],
      ['POST', `${K}/${eb.id}/needs-review`, { reason: 'x' }],
      ['GET', `${K}/${eb.id}/versions`, undefined],
      ['POST', `${K}/${ea.id}/relate`, { related_id: eb.id, relation_type: 'related' }],
      ['DELETE', `${K}/tags/${tagB.id}`, undefined],
      ['PUT', `${K}/departments/${deptB.id}`, { name: 'x' }],
      ['PUT', `${K}/categories/${catB.id}`, { name: 'x' }],
      ['GET', `${K}/categories/${catB.id}/path`, undefined],
      ['POST', `${K}/`, { title: 'x', content: 'y', tag_ids: [tagB.id] }],
      ['POST', `${K}/`, { title: 'x', content: 'y', department_id: deptB.id }],
      ['POST', `${K}/`, { title: 'x', content: 'y', category_id: catB.id }],
      ['POST', `${K}/`, { title: 'x', content: 'y', expert_ids: [b.owner.id] }],
      ['PUT', `${K}/${ea.id}`, { tag_ids: [tagB.id] }],
      ['POST', `${K}/categories`, { name: 'x', parent_id: catB.id }],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: h, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(payload)}`).toBe(404);
    }
    const list = (await t.app.inject({ method: 'GET', url: `${K}/`, headers: h })).json();
    expect(list.items.map((x: { id: string }) => x.id)).toEqual([ea.id]);
  });
});

describe('follow-up work', () => {
  it('writes an activity record and an outbox event with each change, and neither when the change fails', async () => {
    const org = await createOrg(t);
    const e = (await create(org.owner, { title: 'Evented', content: 'x' })).json();
    await t.app.inject({ method: 'PUT', url: `${K}/${e.id}`, headers: org.owner.headers, payload: { title: 'Evented 2' } });
    await t.app.inject({ method: 'DELETE', url: `${K}/${e.id}`, headers: org.owner.headers });
    const acts = await t.deps.database.db.select().from(activity).where(eq(activity.entityId, e.id));
    expect(acts.map((a) => a.action).sort()).toEqual(['archived', 'created', 'updated']);
    const events = await t.deps.database.db.select().from(outboxEvents).where(eq(outboxEvents.aggregateId, e.id)).orderBy(outboxEvents.id);
    expect(events.map((x) => x.type)).toEqual(['knowledge.created', 'knowledge.updated', 'knowledge.deleted']);

    const before = await t.deps.database.db.select({ n: sql<number>`count(*)::int` }).from(outboxEvents);
    const failed = await create(org.owner, { title: 'x', content: 'y', tag_ids: ['01900000-0000-7000-8000-000000000000'] });
    expect(failed.statusCode).toBe(404);
    const after = await t.deps.database.db.select({ n: sql<number>`count(*)::int` }).from(outboxEvents);
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});
