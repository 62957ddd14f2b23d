import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { startS3Double } from '../doubles/s3.ts';
import { createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, settle, type TestApp } from '../harness.ts';
import { multipart, wav } from './media.ts';

// Capture jobs through the API: retried after a transient failure, retried on request after a
// permanent one, and their originals kept in an S3-compatible bucket when one is configured.
let t: TestApp;
let ai: Awaited<ReturnType<typeof startOpenAiDouble>>;
let s3: Awaited<ReturnType<typeof startS3Double>>;
let transcript = 'Close the north gate at ten.';
beforeAll(async () => {
  ai = await startOpenAiDouble({ transcribe: () => ({ text: transcript, language: 'en', duration: 2 }) });
  s3 = await startS3Double({ secretAccessKey: 'test-secret' });
  t = await createTestApp({
    TRANSCRIPTION_BASE_URL: ai.url,
    TRANSCRIPTION_MODEL: 'whisper',
    S3_ENDPOINT: s3.url,
    S3_BUCKET: 'test-bucket',
    S3_ACCESS_KEY_ID: 'TESTACCESSKEY',
    S3_SECRET_ACCESS_KEY: 'test-secret',
  });
});
afterAll(async () => {
  await t?.close();
  await ai?.close();
  await s3?.close();
});

const jobUrl = (path: string, id: string) => `/api/v1/capture/${path}/jobs/${id}`;
async function uploadVoice(org: TestOrg, name = 'gate.wav') {
  const m = multipart(wav(), name);
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/voice/upload', headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
  expect(res.statusCode).toBe(202);
  return res.json().job_id as string;
}
const getJob = async (org: TestOrg, path: string, id: string) => (await t.app.inject({ method: 'GET', url: jobUrl(path, id), headers: org.owner.headers })).json();

describe('capture jobs', () => {
  it('retries a transient failure and succeeds, with one entry', { timeout: 60_000 }, async () => {
    const org = await createOrg(t);
    // The SDK tries each call twice: two failures fail the first attempt, and the job's retry succeeds.
    ai.behaviour.failNext = 2;
    const id = await uploadVoice(org);
    await settle(t, 45_000);
    const job = await getJob(org, 'voice', id);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, max_attempts: 4, error: null });
    expect(job.entry_ids).toHaveLength(1);
    const entries = (await t.app.inject({ method: 'GET', url: '/api/v1/knowledge/?source_type=voice', headers: org.owner.headers })).json();
    expect(entries.items).toHaveLength(1);
  });

  it('fails a permanent error at once with its code; a retry on request then succeeds, and only a failed job can be retried', async () => {
    const org = await createOrg(t);
    transcript = '   ';
    const id = await uploadVoice(org, 'silence.wav');
    await settle(t);
    const failed = await getJob(org, 'voice', id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'EMPTY_TRANSCRIPT' }, entry_ids: [] });

    transcript = 'The spare keys are in the guard room.';
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'POST', url: `${jobUrl('voice', id)}/retry`, headers: other.owner.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `${jobUrl('documents', id)}/retry`, headers: org.owner.headers })).statusCode).toBe(404);
    const retried = await t.app.inject({ method: 'POST', url: `${jobUrl('voice', id)}/retry`, headers: org.owner.headers });
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toMatchObject({ id, status: 'queued', max_attempts: 5 });
    await settle(t);
    const done = await getJob(org, 'voice', id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, error: null });
    const entry = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${done.entry_ids[0]}`, headers: org.owner.headers })).json();
    expect(entry.content).toBe('The spare keys are in the guard room.');

    const again = await t.app.inject({ method: 'POST', url: `${jobUrl('voice', id)}/retry`, headers: { ...org.owner.headers, 'accept-language': 'ar' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('JOB_NOT_FAILED');
    expect(again.json().error.message).toMatch(/[\u0600-\u06FF]/);
    transcript = 'Close the north gate at ten.';
  });

  it('keeps uploaded originals in the configured S3 bucket and links entries to them', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const md = Buffer.from('# Gate\n\nThe north gate closes at ten.\n');
    const m = multipart(md, 'gate.md');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/documents/upload', headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
    expect(res.statusCode).toBe(202);
    const voiceId = await uploadVoice(org);
    await settle(t);
    const doc = await getJob(org, 'documents', res.json().job_id);
    expect(doc.status).toBe('succeeded');
    const entry = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${doc.entry_ids[0]}`, headers: org.owner.headers })).json();
    const key = /^blob:([^#]+)#/.exec(entry.source.ref)?.[1];
    expect(key).toMatch(new RegExp(`^${org.id}/[0-9a-f]{64}\\.md$`));
    expect(s3.objects.get(key!)).toEqual(md);
    const voice = await getJob(org, 'voice', voiceId);
    expect(voice.status).toBe('succeeded');
    expect([...s3.objects.keys()].some((k) => k.endsWith('.wav') && k.includes(org.id))).toBe(true);
  });
});
