import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { addUser, createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, settle, type TestApp } from '../harness.ts';
import { multipart, wav } from './media.ts';

// One local double plays the LLM and the transcription server; each test sets what the LLM answers.
let t: TestApp;
let ai: Awaited<ReturnType<typeof startOpenAiDouble>>;
type Reply = (system: string, user: string) => string;
let reply: Reply;
const structured: Reply = (_system, user) => {
  const text = user.split('Text:\n')[1] ?? '';
  return `Here it is:\n\`\`\`json\n${JSON.stringify({ title: `Structured: ${text.slice(0, 24)}`, summary: 'A short summary.', content: `- ${text}` })}\n\`\`\``;
};
beforeAll(async () => {
  ai = await startOpenAiDouble({
    chat: (messages) => reply(messages.find((m) => m.role === 'system')?.content ?? '', messages.at(-1)?.content ?? ''),
    transcribe: () => ({ text: 'Before starting the boiler, check the safety valve. Then open the main valve slowly.', language: 'en', duration: 9 }),
  });
  t = await createTestApp({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: ai.url, LLM_MODEL: 'test-model', TRANSCRIPTION_BASE_URL: ai.url, TRANSCRIPTION_MODEL: 'whisper' });
});
afterAll(async () => {
  await t?.close();
  await ai?.close();
});
beforeEach(() => {
  reply = structured;
  ai.behaviour.failWith = undefined;
  ai.behaviour.failOn = undefined;
});

const get = async (org: TestOrg, url: string) => (await t.app.inject({ method: 'GET', url, headers: org.owner.headers })).json();

async function voiceEntry(org: TestOrg) {
  const m = multipart(wav(), 'boiler.wav', { language: 'en' });
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/voice/upload', headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
  expect(res.statusCode).toBe(202);
  await settle(t);
  const job = await get(org, `/api/v1/capture/voice/jobs/${res.json().job_id}`);
  expect(job.status).toBe('succeeded');
  return { job, entry: await get(org, `/api/v1/knowledge/${job.entry_ids[0]}`) };
}

describe('capture with an LLM configured', () => {
  it('titles a manual note with the LLM, and falls back to the first sentence when it fails', async () => {
    const org = await createOrg(t);
    reply = (system) => (system.includes('title only') ? '"Boiler start checklist"\n' : 'unexpected');
    const note = 'Check the safety valve first. Then open the main valve.';
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/manual/', headers: org.owner.headers, payload: { content: note } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ title: 'Boiler start checklist', content: note, source: { type: 'manual' } });
    ai.behaviour.failWith = 500;
    const fallback = await t.app.inject({ method: 'POST', url: '/api/v1/capture/manual/', headers: org.owner.headers, payload: { content: note } });
    expect(fallback.statusCode).toBe(201);
    expect(fallback.json().title).toBe('Check the safety valve first.');
  });

  it('structures a transcript into title, summary and content, keeping the transcript', async () => {
    const org = await createOrg(t);
    const { job, entry } = await voiceEntry(org);
    expect(job.result).toMatchObject({ structured: true });
    expect(entry).toMatchObject({ title: 'Structured: Before starting the boil', summary: 'A short summary.', source: { type: 'voice' } });
    expect(entry.content).toBe('- Before starting the boiler, check the safety valve. Then open the main valve slowly.');
    expect(entry.metadata).toMatchObject({ structured: true, transcript: 'Before starting the boiler, check the safety valve. Then open the main valve slowly.', duration_s: 9 });
  });

  it('keeps the transcript as it is when the LLM fails, answers badly, or drops facts', async () => {
    const org = await createOrg(t);
    const transcript = 'Before starting the boiler, check the safety valve. Then open the main valve slowly.';

    reply = () => 'I cannot help with that.';
    let r = await voiceEntry(org);
    expect(r.job.result).toMatchObject({ structured: false, structuring_error: 'LLM_REPLY_UNUSABLE' });
    expect(r.entry).toMatchObject({ title: 'Before starting the boiler, check the safety valve.', content: transcript });

    reply = () => JSON.stringify({ title: 'Boiler', summary: 'Valves.', content: 'Check valves.' });
    r = await voiceEntry(org);
    expect(r.entry).toMatchObject({ title: 'Boiler', summary: 'Valves.', content: transcript });

    // The transcription succeeds and the LLM fails: the entry is still made, from the transcript.
    ai.behaviour.failOn = (path) => (path.endsWith('/chat/completions') ? 500 : undefined);
    r = await voiceEntry(org);
    ai.behaviour.failOn = undefined;
    expect(r.job.result).toMatchObject({ structured: false, structuring_error: 'UPSTREAM_ERROR' });
    expect(r.entry.content).toBe(transcript);
  });

  it('turns interview answers into entries that read on their own, with the question kept', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    const expert = await addUser(t, org);
    const P = '/api/v1/capture/interviews';
    const tpl = (await t.app.inject({ method: 'POST', url: `${P}/templates`, headers: h, payload: { name: 'Handover', language: 'en', questions: [{ id: 'q1', text: 'How do you start the boiler?', required: true }] } })).json();
    const s = (await t.app.inject({ method: 'POST', url: `${P}/sessions`, headers: h, payload: { template_id: tpl.id, interviewee_id: expert.id } })).json();
    await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/answers`, headers: h, payload: { question_id: 'q1', answer: 'valve first, then the pump, then wait for pressure' } });
    const done = await t.app.inject({ method: 'POST', url: `${P}/sessions/${s.id}/complete`, headers: h });
    expect(done.statusCode).toBe(202);
    await settle(t);
    const session = (await t.app.inject({ method: 'GET', url: `${P}/sessions/${s.id}`, headers: h })).json();
    expect(session).toMatchObject({ status: 'completed', job: { status: 'succeeded', result: { structured: 1 } } });
    const entry = await get(org, `/api/v1/knowledge/${session.job.entry_ids[0]}`);
    expect(entry).toMatchObject({ title: 'Structured: valve first, then the pu', summary: 'A short summary.', expert_ids: [expert.id] });
    expect(entry.metadata).toMatchObject({ question: 'How do you start the boiler?', structured: true });
    // The model was given the question for context.
    const asked = ai.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!.body as { messages: Array<{ content: string }> };
    expect(asked.messages.at(-1)!.content).toContain('Interview question: How do you start the boiler?');
  });

  it('extracts the incidents and procedures a shift log notes, and the log shows what they became', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const h = org.owner.headers;
    reply = (system) =>
      system.includes('work shift')
        ? JSON.stringify({
            items: [
              { kind: 'incident', title: 'Pump P-2 tripped', content: 'Pump P-2 tripped at 03:00 and was restarted after the strainer was cleaned.' },
              { kind: 'procedure', title: 'Restarting P-2', content: 'Close the valve, clean the strainer, open the valve, restart the pump.' },
              { kind: 'other', title: 'Coffee', content: 'The coffee machine is fixed.' },
              { title: '', content: 'no title: dropped' },
            ],
          })
        : 'unexpected';
    const notes = 'P-2 tripped at 03:00; cleaned the strainer and restarted it (close valve, clean, open, restart). Coffee machine fixed.';
    const log = (
      await t.app.inject({ method: 'POST', url: '/api/v1/capture/interviews/shift-logs', headers: h, payload: { shift_date: '2026-11-30', shift_type: 'night', notes, handover_items: [{ title: 'Boiler 2 offline', detail: 'Waiting for a part.', priority: 'high' }] } })
    ).json();
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/capture/interviews/shift-logs/${log.id}/submit`, headers: h })).statusCode).toBe(202);
    await settle(t);
    const after = (await t.app.inject({ method: 'GET', url: `/api/v1/capture/interviews/shift-logs/${log.id}`, headers: h })).json();
    expect(after).toMatchObject({ status: 'submitted', notes, job: { status: 'succeeded' } });
    expect(after.extracted.map((i: { kind: string }) => i.kind)).toEqual(['incident', 'procedure', 'note']);
    const entries = await Promise.all((after.job.entry_ids as string[]).map((id) => get(org, `/api/v1/knowledge/${id}`)));
    expect(entries.map((e) => [e.title, e.metadata.kind])).toEqual([
      ['Boiler 2 offline', 'handover'],
      ['Pump P-2 tripped', 'incident'],
      ['Restarting P-2', 'procedure'],
      ['Coffee', 'note'],
    ]);
    expect(entries.every((e) => e.metadata.shift_log_id === log.id && e.source.type === 'shift_log')).toBe(true);
  });
});
