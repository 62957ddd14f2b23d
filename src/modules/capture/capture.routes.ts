import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf, type Actor } from '../../platform/auth/guard.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { Paginated, PaginationQuery, pageRequest, pageOf } from '../../platform/http/pagination.ts';
import { PermanentJobError, type JobRow } from '../../platform/jobs/jobs.ts';
import { splitSentences } from '../query/answer.ts';
import { Entry } from '../knowledge/knowledge.routes.ts';
import { KnowledgeService } from '../knowledge/knowledge.service.ts';
import { detectAudio } from './audio.ts';

defineErrors({
  FILE_REQUIRED: { status: 422, en: 'Send the file in a multipart field named "file".', ar: 'أرسل الملف في حقل multipart باسم "file".' },
});

const TAGS = ['capture'];
const VOICE_KIND = 'capture.voice';

/** A title from the first sentence of a text, trimmed to 120 characters. */
export function titleFrom(text: string): string {
  const first = splitSentences(text)[0] ?? text.trim();
  const clean = first.replace(/\s+/g, ' ').trim();
  return clean.length <= 120 ? clean : `${clean.slice(0, 117).replace(/\s+\S*$/, '')}…`;
}

const Job = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
  progress: Type.Integer(),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  entry_ids: Type.Array(Type.String()),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

function presentJob(j: JobRow) {
  const entryIds = Array.isArray((j.result as { entry_ids?: unknown } | null)?.entry_ids) ? ((j.result as { entry_ids: string[] }).entry_ids) : [];
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    progress: j.progress,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    entry_ids: entryIds,
    result: j.result ?? null,
    error: (j.error as Record<string, unknown> | null) ?? null,
    created_at: j.createdAt.toISOString(),
    started_at: j.startedAt?.toISOString() ?? null,
    finished_at: j.finishedAt?.toISOString() ?? null,
  };
}

/** Reads the single uploaded file of a multipart request, with the limits of the instance. */
async function readUpload(request: FastifyRequest): Promise<{ bytes: Buffer; filename: string; fields: Record<string, string> }> {
  if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
  const fields: Record<string, string> = {};
  let file: { bytes: Buffer; filename: string } | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file' || file) {
        part.file.resume();
        continue;
      }
      const bytes = await part.toBuffer();
      file = { bytes, filename: part.filename };
    } else if (typeof part.value === 'string') {
      fields[part.fieldname] = part.value;
    }
  }
  if (!file) throw new AppError('FILE_REQUIRED');
  return { ...file, fields };
}

/** Manual notes (synchronous) and voice notes (transcribed by a job) under /api/v1/capture. */
export async function register(app: App, deps: Deps): Promise<void> {
  const knowledge = new KnowledgeService(deps.database.db, deps.outbox);
  await app.register(multipart, { limits: { fileSize: deps.config.uploadLimit, files: 1, fields: 20, fieldSize: 64 * 1024 }, throwFileSizeLimit: true });

  deps.jobs.define<{ audio: string; language?: 'ar' | 'en'; actor: Actor; filename: string }>({
    kind: VOICE_KIND,
    retryLimit: 3,
    retryDelaySeconds: 5,
    timeoutSeconds: 900,
    handler: async ({ job, payload, progress }) => {
      const audio = Buffer.from(payload.audio, 'base64');
      const t = await deps.ai.transcribe(audio, payload.language ? { language: payload.language } : {}).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'TRANSCRIPTION_UNAVAILABLE') throw new PermanentJobError('TRANSCRIPTION_UNAVAILABLE', 'No transcription provider is configured.');
        throw err;
      });
      await progress(70);
      const text = t.text.trim();
      if (!text) throw new PermanentJobError('EMPTY_TRANSCRIPT', 'The recording contains no speech that could be transcribed.');
      // One entry per job: a retried job that already created its entry does not create another.
      const existing = (job.result as { entry_ids?: string[] } | null)?.entry_ids;
      if (existing?.length) return { entry_ids: existing };
      const entry = await knowledge.create(payload.actor, {
        title: titleFrom(text),
        content: text,
        source: { type: 'voice', ref: `job:${job.id}` },
        metadata: { filename: payload.filename, ...(t.durationS !== undefined ? { duration_s: t.durationS } : {}), ...(t.language ? { transcript_language: t.language } : {}) },
      });
      return { entry_ids: [entry.id], transcript_chars: text.length };
    },
  });

  app.post(
    '/api/v1/capture/manual/',
    {
      config: { auth: {}, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Capture a note as an entry (synchronous)',
        description: 'Without a title, one is made from the first sentence.',
        body: Type.Object({
          content: Type.String({ minLength: 1, maxLength: 200_000 }),
          title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
          language: Type.Optional(Type.Union([Type.Literal('ar'), Type.Literal('en'), Type.Literal('mixed')])),
          tag_ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100 })),
          department_id: Type.Optional(Type.String({ format: 'uuid' })),
          category_id: Type.Optional(Type.String({ format: 'uuid' })),
          expert_ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100 })),
        }),
        response: { 201: Entry },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const entry = await knowledge.create(actorOf(request), { ...b, title: b.title ?? titleFrom(b.content), source: { type: 'manual' } });
      return reply.code(201).send(entry);
    },
  );

  const requireTranscription = () => {
    if (!deps.ai.hasTranscription()) throw new AppError('TRANSCRIPTION_UNAVAILABLE');
  };

  app.post(
    '/api/v1/capture/voice/upload',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Upload a voice note; a job transcribes it into an entry',
        description: 'multipart/form-data with `file` (mp3, m4a, wav, webm or ogg, recognised from its bytes) and optional `language` (ar or en). 503 TRANSCRIPTION_UNAVAILABLE when no transcription provider is configured.',
        consumes: ['multipart/form-data'],
        response: { 202: Type.Object({ job_id: Type.String({ format: 'uuid' }), status: Type.String() }) },
      },
    },
    async (request, reply) => {
      requireTranscription();
      const actor = actorOf(request);
      const { bytes, filename, fields } = await readUpload(request);
      if (!detectAudio(bytes)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { accepted: ['mp3', 'm4a', 'wav', 'webm', 'ogg'] });
      const language = fields.language === 'ar' || fields.language === 'en' ? fields.language : undefined;
      const job = await deps.database.db.transaction((tx) =>
        deps.jobs.enqueue(tx as never, { kind: VOICE_KIND, orgId: actor.orgId, createdBy: actor.userId ?? null, payload: { audio: bytes.toString('base64'), filename, actor, ...(language ? { language } : {}) } }),
      );
      return reply.code(202).send({ job_id: job.id, status: job.status });
    },
  );

  app.post(
    '/api/v1/capture/voice/transcribe',
    {
      config: { auth: { minPlan: 'growth', feature: 'transcription' } },
      schema: {
        tags: TAGS,
        summary: 'Transcribe a recording synchronously (no entry, no job)',
        consumes: ['multipart/form-data'],
        response: { 200: Type.Object({ text: Type.String(), language: Type.Union([Type.String(), Type.Null()]), duration_s: Type.Union([Type.Number(), Type.Null()]) }) },
      },
    },
    async (request) => {
      requireTranscription();
      const { bytes, fields } = await readUpload(request);
      if (!detectAudio(bytes)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { accepted: ['mp3', 'm4a', 'wav', 'webm', 'ogg'] });
      const language = fields.language === 'ar' || fields.language === 'en' ? fields.language : undefined;
      const t = await deps.ai.transcribe(bytes, language ? { language } : {});
      return { text: t.text, language: t.language ?? language ?? null, duration_s: t.durationS ?? null };
    },
  );

  app.get(
    '/api/v1/capture/voice/jobs',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Voice capture jobs',
        querystring: Type.Object({ ...PaginationQuery, status: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')])) }),
        response: { 200: Paginated(Job) },
      },
    },
    async (request) => {
      const page = pageRequest(request.query);
      const { rows, total } = await deps.jobs.list(actorOf(request).orgId, { kinds: [VOICE_KIND], limit: page.limit, offset: page.offset, ...(request.query.status ? { status: request.query.status } : {}) });
      return pageOf(rows.map(presentJob), total, page);
    },
  );

  app.get(
    '/api/v1/capture/voice/jobs/:job_id',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'One voice capture job', params: Type.Object({ job_id: Type.String({ format: 'uuid' }) }), response: { 200: Job } } },
    async (request) => presentJob(await deps.jobs.get(actorOf(request).orgId, request.params.job_id, [VOICE_KIND])),
  );
}
