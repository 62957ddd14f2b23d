import { describe, expect, it } from 'vitest';
import { addUser, createOrg } from '../factories.ts';
import { useTestApp } from '../harness.ts';

const t = useTestApp();
const K = '/api/v1/knowledge';

describe('bulk import', () => {
  it('is Growth+', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const res = await t.app.inject({ method: 'POST', url: `${K}/bulk-import`, headers: org.owner.headers, payload: [] });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth' } });
  });

  it('imports a JSON array with a result per row', async () => {
    const org = await createOrg(t);
    const res = await t.app.inject({
      method: 'POST',
      url: `${K}/bulk-import`,
      headers: org.owner.headers,
      payload: [{ title: 'One', content: 'first' }, { title: '' }, { title: 'ثلاثة', content: 'الثالث', source_ref: 'legacy-3' }],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ created: 2, failed: 1 });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['created', 'error', 'created']);
    expect(body.results[1].error.code).toBe('VALIDATION_ERROR');
    const third = (await t.app.inject({ method: 'GET', url: `${K}/${body.results[2].id}`, headers: org.owner.headers })).json();
    expect(third).toMatchObject({ language: 'ar', source: { type: 'import', ref: 'legacy-3' } });
  });

  it('imports CSV and, with atomic=true, all or nothing', async () => {
    const org = await createOrg(t);
    const tag = (await t.app.inject({ method: 'POST', url: `${K}/tags`, headers: org.owner.headers, payload: { name: 'csv' } })).json();
    const csv = `title,content,tag_ids\n"Pump, P-1","Check ""oil"" weekly",${tag.id}\nالمضخة,افحص الزيت أسبوعيًا,\n`;
    const ok = await t.app.inject({ method: 'POST', url: `${K}/bulk-import`, headers: { ...org.owner.headers, 'content-type': 'text/csv' }, payload: csv });
    expect(ok.json()).toMatchObject({ created: 2, failed: 0 });
    const first = (await t.app.inject({ method: 'GET', url: `${K}/${ok.json().results[0].id}`, headers: org.owner.headers })).json();
    expect(first).toMatchObject({ title: 'Pump, P-1', content: 'Check "oil" weekly', tag_ids: [tag.id] });

    const before = (await t.app.inject({ method: 'GET', url: `${K}/`, headers: org.owner.headers })).json().pagination.total;
    const bad = await t.app.inject({ method: 'POST', url: `${K}/bulk-import?atomic=true`, headers: org.owner.headers, payload: [{ title: 'a', content: 'b' }, { title: 'x', content: 'y', tag_ids: ['01900000-0000-7000-8000-000000000009'] }] });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error).toMatchObject({ code: 'IMPORT_FAILED', details: { index: 1 } });
    const after = (await t.app.inject({ method: 'GET', url: `${K}/`, headers: org.owner.headers })).json().pagination.total;
    expect(after).toBe(before);
  });

  it('refuses more than 5,000 rows with 413', async () => {
    const org = await createOrg(t);
    const rows = Array.from({ length: 5001 }, () => ({ title: 't', content: 'c' }));
    const res = await t.app.inject({ method: 'POST', url: `${K}/bulk-import`, headers: org.owner.headers, payload: rows });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('IMPORT_TOO_LARGE');
  });
});

describe('export', () => {
  it('streams the filtered entries as JSON, with versions on request', async () => {
    const org = await createOrg(t);
    const dept = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: org.owner.headers, payload: { name: 'Ops' } })).json();
    const a = (await t.app.inject({ method: 'POST', url: `${K}/`, headers: org.owner.headers, payload: { title: 'A', content: 'a', department_id: dept.id } })).json();
    await t.app.inject({ method: 'POST', url: `${K}/`, headers: org.owner.headers, payload: { title: 'B', content: 'b' } });
    await t.app.inject({ method: 'PUT', url: `${K}/${a.id}`, headers: org.owner.headers, payload: { content: 'a2' } });
    const all = await t.app.inject({ method: 'GET', url: `${K}/export`, headers: org.owner.headers });
    expect(all.statusCode).toBe(200);
    expect(all.json().items).toHaveLength(2);
    const filtered = await t.app.inject({ method: 'GET', url: `${K}/export?department_id=${dept.id}&include_versions=true`, headers: org.owner.headers });
    const items = filtered.json().items;
    expect(items.map((x: { id: string }) => x.id)).toEqual([a.id]);
    expect(items[0].versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'GET', url: `${K}/export`, headers: other.owner.headers })).json().items).toEqual([]);
  });
});

describe('department classification', () => {
  it('assigns entries to the closest department in either language, leaves unclear ones unassigned', async () => {
    const org = await createOrg(t);
    const h = org.owner.headers;
    const member = await addUser(t, org);
    expect((await t.app.inject({ method: 'POST', url: `${K}/departments/classify`, headers: member.headers, payload: {} })).statusCode).toBe(403);
    const maint = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: h, payload: { name: 'Maintenance', name_ar: 'الصيانة', description: 'pumps valves boilers repair lubrication الصيانة المضخات الصمامات' } })).json();
    const fin = (await t.app.inject({ method: 'POST', url: `${K}/departments`, headers: h, payload: { name: 'Finance', name_ar: 'المالية', description: 'invoices budget payments accounting الفواتير الميزانية المدفوعات' } })).json();
    const e1 = (await t.app.inject({ method: 'POST', url: `${K}/`, headers: h, payload: { title: 'Pump lubrication', content: 'Lubricate the pumps and check the valves every week.' } })).json();
    const e2 = (await t.app.inject({ method: 'POST', url: `${K}/`, headers: h, payload: { title: 'إغلاق الميزانية', content: 'تُراجع الفواتير والمدفوعات قبل إغلاق الميزانية الشهرية.' } })).json();
    const e3 = (await t.app.inject({ method: 'POST', url: `${K}/`, headers: h, payload: { title: 'Team lunch', content: 'We meet on Thursdays at noon.' } })).json();
    const dry = await t.app.inject({ method: 'POST', url: `${K}/departments/classify`, headers: h, payload: { dry_run: true } });
    expect(dry.statusCode).toBe(200);
    const byEntry = Object.fromEntries(dry.json().items.map((i: { entry_id: string; department_id: string | null }) => [i.entry_id, i.department_id]));
    expect(byEntry[e1.id]).toBe(maint.id);
    expect(byEntry[e2.id]).toBe(fin.id);
    expect(byEntry[e3.id]).toBeNull();
    expect(dry.json().assigned).toBe(0);
    expect((await t.app.inject({ method: 'GET', url: `${K}/${e1.id}`, headers: h })).json().department_id).toBeNull();
    const real = await t.app.inject({ method: 'POST', url: `${K}/departments/classify`, headers: h, payload: { entry_ids: [e1.id, e2.id] } });
    expect(real.json().assigned).toBe(2);
    expect((await t.app.inject({ method: 'GET', url: `${K}/${e2.id}`, headers: h })).json().department_id).toBe(fin.id);
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'POST', url: `${K}/departments/classify`, headers: other.owner.headers, payload: { entry_ids: [e1.id] } })).statusCode).toBe(404);
  });
});
