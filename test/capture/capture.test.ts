import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { createOrg, type TestOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';
import { multipart, wav } from './media.ts';

let t: TestApp;
let plain: TestApp;
let double: Awaited<ReturnType<typeof startOpenAiDouble>>;
beforeAll(async () => {
  double = await startOpenAiDouble({ transcribe: () => ({ text: 'يجب فحص صمام الأمان قبل تشغيل المرجل. ثم افتح الصمام الرئيسي.', language: 'ar', duration: 7.5 }) });
  t = await createTestApp({ TRANSCRIPTION_BASE_URL: double.url, TRANSCRIPTION_MODEL: 'whisper', UPLOAD_LIMIT_BYTES: '65536' });
  plain = await createTestApp();
});
afterAll(async () => {
  await t?.close();
  await plain?.close();
  await double?.close();
});

const upload = (app: TestApp, org: TestOrg, file: Buffer, name = 'note.wav', url = '/api/v1/capture/voice/upload') => {
  const m = multipart(file, name, { language: 'ar' });
  return app.app.inject({ method: 'POST', url, headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
};

describe('manual capture', () => {
  it('creates an entry at once, titled from the first sentence when no title is given', async () => {
    const org = await createOrg(t);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/manual/', headers: org.owner.headers, payload: { content: 'Close the north gate at 22:00. Keys are in the guard room.' } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ title: 'Close the north gate at 22:00.', source: { type: 'manual' }, language: 'en' });
    const titled = await t.app.inject({ method: 'POST', url: '/api/v1/capture/manual/', headers: org.owner.headers, payload: { content: 'x', title: 'Given' } });
    expect(titled.json().title).toBe('Given');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/capture/manual/', headers: org.owner.headers, payload: {} })).statusCode).toBe(422);
  });
});

describe('voice capture', () => {
  it('transcribes an upload into an entry through a job, and the job is private to the organisation', async () => {
    const org = await createOrg(t);
    const res = await upload(t, org, wav());
    expect(res.statusCode).toBe(202);
    const jobId = res.json().job_id as string;
    await t.deps.jobs.drain(20_000);
    const job = (await t.app.inject({ method: 'GET', url: `/api/v1/capture/voice/jobs/${jobId}`, headers: org.owner.headers })).json();
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, progress: 100 });
    expect(job.entry_ids).toHaveLength(1);
    const entry = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${job.entry_ids[0]}`, headers: org.owner.headers })).json();
    expect(entry).toMatchObject({ title: 'يجب فحص صمام الأمان قبل تشغيل المرجل.', language: 'ar', source: { type: 'voice' } });
    expect(entry.source.ref).toMatch(new RegExp(`^blob:${org.id}/[0-9a-f]{64}\\.wav#${jobId}$`));
    expect(entry.metadata).toMatchObject({ filename: 'note.wav', duration_s: 7.5 });
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/capture/voice/jobs?status=succeeded', headers: org.owner.headers })).json();
    expect(list.items.map((j: { id: string }) => j.id)).toEqual([jobId]);
    const other = await createOrg(t);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/capture/voice/jobs/${jobId}`, headers: other.owner.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/capture/voice/jobs', headers: other.owner.headers })).json().items).toEqual([]);
  });

  it('accepts mp3, m4a, webm and ogg recordings, recognised from their bytes whatever their name', async () => {
    const org = await createOrg(t);
    const jobs: Array<{ kind: string; id: string }> = [];
    for (const kind of ['mp3', 'm4a', 'webm', 'ogg']) {
      const res = await upload(t, org, fs.readFileSync(new URL(`../fixtures/audio/note.${kind}`, import.meta.url)), 'recording.bin');
      expect(res.statusCode, kind).toBe(202);
      jobs.push({ kind, id: res.json().job_id });
    }
    await t.deps.jobs.drain(20_000);
    for (const { kind, id } of jobs) {
      const job = (await t.app.inject({ method: 'GET', url: `/api/v1/capture/voice/jobs/${id}`, headers: org.owner.headers })).json();
      expect(job.status, kind).toBe('succeeded');
      const entry = (await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${job.entry_ids[0]}`, headers: org.owner.headers })).json();
      expect(entry.source.ref).toMatch(new RegExp(`\\.${kind}#${id}$`));
    }
    // A photo in the same container as m4a audio is not a recording.
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(64)]);
    expect((await upload(t, org, heic, 'photo.m4a')).statusCode).toBe(415);
  });

  it('refuses what is not audio (415), too large a file (413) and a missing file (422)', async () => {
    const org = await createOrg(t);
    const notAudio = await upload(t, org, Buffer.from('%PDF-1.7 this is not audio at all'), 'fake.wav');
    expect(notAudio.statusCode).toBe(415);
    expect(notAudio.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await upload(t, org, wav(40_000));
    expect(big.statusCode).toBe(413);
    const m = { 'content-type': 'multipart/form-data; boundary=b' };
    const none = await t.app.inject({ method: 'POST', url: '/api/v1/capture/voice/upload', headers: { ...org.owner.headers, ...m }, payload: '--b\r\ncontent-disposition: form-data; name="language"\r\n\r\nar\r\n--b--\r\n' });
    expect(none.statusCode).toBe(422);
    expect(none.json().error.code).toBe('FILE_REQUIRED');
  });

  it('transcribes synchronously on Growth+ only', async () => {
    const growth = await createOrg(t, { plan: 'growth' });
    const ok = await upload(t, growth, wav(), 'a.wav', '/api/v1/capture/voice/transcribe');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ language: 'ar', duration_s: 7.5 });
    expect(ok.json().text).toContain('صمام');
    const starter = await createOrg(t, { plan: 'starter' });
    const gated = await upload(t, starter, wav(), 'a.wav', '/api/v1/capture/voice/transcribe');
    expect(gated.statusCode).toBe(403);
    expect(gated.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'growth' } });
  });

  it('answers 503 TRANSCRIPTION_UNAVAILABLE at once without a provider, saying how to configure one', async () => {
    const org = await createOrg(plain, { plan: 'growth' });
    for (const url of ['/api/v1/capture/voice/upload', '/api/v1/capture/voice/transcribe']) {
      const res = await upload(plain, org, wav(), 'a.wav', url);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('TRANSCRIPTION_UNAVAILABLE');
      expect(res.json().error.message).toContain('TRANSCRIPTION_BASE_URL');
    }
  });
});
