import { describe, expect, it } from 'vitest';
import { addUser, createOrg } from '../factories.ts';
import { useTestApp } from '../harness.ts';

const t = useTestApp();
const P = '/api/v1/capture/interviews';

describe('interviews', () => {
  it('runs a session end to end: answers, required check, completion into entries with the interviewee as expert', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    const expert = await addUser(t, org, { fullName: 'Salem' });
    const member = await addUser(t, org);
    const body = {
      name: 'Exit interview',
      language: 'en',
      questions: [
        { id: 'q1', text: 'What do you do every morning?', text_ar: 'ماذا تفعل كل صباح؟', required: true },
        { id: 'q2', text: 'Who are your suppliers?', required: false },
        { id: 'q3', text: 'Anything else?', required: false },
      ],
    };
    expect((await t.app.inject({ method: 'POST', url: `${P}/templates`, headers: member.headers, payload: body })).statusCode).toBe(403);
    const tpl = (await t.app.inject({ method: 'POST', url: `${P}/templates`, headers: h, payload: body })).json();
    expect((await t.app.inject({ method: 'GET', url: `${P}/templates/${tpl.id}`, headers: member.headers })).json().questions).toHaveLength(3);
    const s = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: h, payload: { template_id: tpl.id, interviewee_id: expert.id } })).json();
    expect(s).toMatchObject({ status: 'in_progress', questions: body.questions });
    await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q2', answer: 'Acme and Delta.' } });
    const early = await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/complete`, headers: h });
    expect(early.statusCode).toBe(422);
    expect(early.json().error).toMatchObject({ code: 'REQUIRED_UNANSWERED', details: { question_ids: ['q1'] } });
    expect((await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q9', answer: 'x' } })).statusCode).toBe(422);
    await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q1', answer: 'first draft' } });
    const replaced = await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q1', answer: 'I check the boiler pressure and the night log.' } });
    expect(replaced.json().answers.find((a: { question_id: string }) => a.question_id === 'q1').answer).toBe('I check the boiler pressure and the night log.');
    const done = await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/complete`, headers: h });
    expect(done.statusCode).toBe(202);
    await t.deps.jobs.drain(20_000);
    const job = await t.deps.jobs.get(org.id, done.json().job_id);
    expect(job.status).toBe('succeeded');
    const ids = (job.result as { entry_ids: string[] }).entry_ids;
    expect(ids).toHaveLength(2);
    const entry = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${ids[0]}`, headers: h })).json();
    expect(entry).toMatchObject({ title: 'What do you do every morning?', content: 'I check the boiler pressure and the night log.', expert_ids: [expert.id], source: { type: 'interview' } });
    expect((await t.app.inject({ method: 'GET', url: `${P}/sessions/${s.id}`, headers: h })).json().status).toBe('completed');
    const closed = await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q3', answer: 'late' } });
    expect(closed.statusCode).toBe(409);

    const s2 = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: h, payload: { template_id: tpl.id } })).json();
    await t.app.inject({ method: 'POST', url: `${P}/sessions/${s2.id}/answers`, headers: h, payload: { question_id: 'q1', answer: 'kept' } });
    expect((await t.app.inject({ method: 'DELETE', url: `${P}/sessions/${s2.id}`, headers: h })).statusCode).toBe(204);
    const cancelled = (await t.app.inject({ method: 'GET', url: `${P}/sessions/${s2.id}`, headers: h })).json();
    expect(cancelled).toMatchObject({ status: 'cancelled', answers: [{ question_id: 'q1', answer: 'kept' }] });
    expect((await t.app.inject({ method: 'POST', url: `${P}/sessions/${s2.id}/complete`, headers: h })).statusCode).toBe(409);

    expect((await t.app.inject({ method: 'DELETE', url: `${P}/templates/${tpl.id}`, headers: h })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `${P}/templates`, headers: h })).json().items).toHaveLength(0);
  });

  it('lets managers edit a template; sessions already started keep their questions', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    const member = await addUser(t, org);
    const body = { name: 'Handover', language: 'ar', questions: [{ id: 'q1', text: 'What is pending?', text_ar: 'ما المعلّق؟', required: true }] };
    const tpl = (await t.app.inject({ method: 'POST', url: `${P}/templates`, headers: h, payload: body })).json();
    const before = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: h, payload: { template_id: tpl.id } })).json();
    const edited = { ...body, name: 'Shift handover', questions: [...body.questions, { id: 'q2', text: 'Any risks?', required: false }] };
    expect((await t.app.inject({ method: 'PUT', url: `${P}/templates/${tpl.id}`, headers: member.headers, payload: edited })).statusCode).toBe(403);
    const dup = await t.app.inject({ method: 'PUT', url: `${P}/templates/${tpl.id}`, headers: h, payload: { ...body, questions: [body.questions[0], body.questions[0]] } });
    expect(dup.statusCode).toBe(422);
    expect(dup.json().error.details.fields[0]).toMatchObject({ field: 'questions' });
    const res = await t.app.inject({ method: 'PUT', url: `${P}/templates/${tpl.id}`, headers: h, payload: edited });
    expect(res.json()).toMatchObject({ name: 'Shift handover', questions: edited.questions });
    expect((await t.app.inject({ method: 'GET', url: `${P}/sessions/${before.id}`, headers: h })).json().questions).toEqual(body.questions);
    const after = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: h, payload: { template_id: tpl.id } })).json();
    expect(after.questions).toEqual(edited.questions);
    const other = await createOrg(t, { plan: 'growth' });
    expect((await t.app.inject({ method: 'PUT', url: `${P}/templates/${tpl.id}`, headers: other.owner.headers, payload: edited })).statusCode).toBe(404);
  });

  it('is Growth+, and templates, sessions and shift logs of another organisation are 404', async () => {
    const starter = await createOrg(t, { plan: 'starter' });
    expect((await t.app.inject({ method: 'GET', url: `${P}/templates`, headers: starter.owner.headers })).json().error.code).toBe('PLAN_UPGRADE_REQUIRED');
    const a = await createOrg(t, { plan: 'growth' });
    const b = await createOrg(t, { plan: 'growth' });
    const tpl = (await t.app.inject({ method: 'POST', url: `${P}/templates`, headers: a.owner.headers, payload: { name: 'x', language: 'ar', questions: [{ id: 'q', text: 'س', required: true }] } })).json();
    const s = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: a.owner.headers, payload: { template_id: tpl.id } })).json();
    const log = (await t.app.inject({ method: 'POST', url: `${P}/shift-logs`, headers: a.owner.headers, payload: { shift_date: '2026-11-22', shift_type: 'night', notes: 'n', handover_items: [] } })).json();
    for (const url of [`${P}/templates/${tpl.id}`, `${P}/sessions/${s.id}`, `${P}/shift-logs/${log.id}`]) {
      expect((await t.app.inject({ method: 'GET', url, headers: b.owner.headers })).statusCode).toBe(404);
    }
    expect((await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: b.owner.headers, payload: { template_id: tpl.id } })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: a.owner.headers, payload: { template_id: tpl.id, interviewee_id: b.owner.id } })).statusCode).toBe(404);
  });
});

describe('shift logs', () => {
  it('edits a draft, submits it into entries linked back to the log, and refuses edits after submit', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    const body = {
      shift_date: '2026-11-21',
      shift_type: 'night',
      notes: 'Quiet night; pump P-2 vibrated at 03:00.',
      handover_items: [{ title: 'Pump P-2 vibration', detail: 'Check the bearing before the day shift starts it.', priority: 'high' }],
    };
    const draft = (await t.app.inject({ method: 'POST', url: `${P}/shift-logs`, headers: h, payload: body })).json();
    expect(draft.status).toBe('draft');
    const upd = await t.app.inject({ method: 'PUT', url: `${P}/shift-logs/${draft.id}`, headers: h, payload: { ...body, shift_type: 'late night' } });
    expect(upd.json().shift_type).toBe('late night');
    const sub = await t.app.inject({ method: 'POST', url: `${P}/shift-logs/${draft.id}/submit`, headers: h });
    expect(sub.statusCode).toBe(202);
    await t.deps.jobs.drain(20_000);
    const job = await t.deps.jobs.get(org.id, sub.json().job_id);
    const ids = (job.result as { entry_ids: string[] }).entry_ids;
    expect(ids).toHaveLength(2);
    const item = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${ids[0]}`, headers: h })).json();
    expect(item).toMatchObject({ title: 'Pump P-2 vibration', source: { type: 'shift_log', ref: `shift_log:${draft.id}:item:0` }, metadata: { shift_log_id: draft.id, priority: 'high' } });
    expect((await t.app.inject({ method: 'PUT', url: `${P}/shift-logs/${draft.id}`, headers: h, payload: body })).statusCode).toBe(409);
    expect((await t.app.inject({ method: 'POST', url: `${P}/shift-logs/${draft.id}/submit`, headers: h })).statusCode).toBe(409);
    expect((await t.app.inject({ method: 'GET', url: `${P}/shift-logs`, headers: h })).json().items).toHaveLength(1);
  });
});
