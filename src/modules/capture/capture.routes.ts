import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf, type Actor } from '../../platform/auth/guard.ts';
import { AppError, defineErrors, errorMessage } from '../../platform/http/errors.ts';
import { Paginated, PaginationQuery, pageRequest, pageOf } from '../../platform/http/pagination.ts';
import { PermanentJobError, type JobRow } from '../../platform/jobs/jobs.ts';
import { Entry } from '../knowledge/knowledge.routes.ts';
import { KnowledgeService } from '../knowledge/knowledge.service.ts';
import { BlobNotFoundError, blobKey, createBlobStore, type BlobStore } from '../../platform/blobs/blobs.ts';
import { createOnce } from './capture.entries.ts';
import { structureText, titleFor } from './structure.ts';
import { detectAudio } from './audio.ts';
import { claimedKind, detectDocument, parseDocument, type DocumentKind } from './documents.ts';
import { Job, presentJob } from './capture.schemas.ts';

defineErrors({
  FILE_REQUIRED: { status: 422, en: 'Send the file in a multipart field named "file".', ar: 'أرسل الملف في حقل multipart باسم "file".' },
});

const TAGS = ['capture'];
const VOICE_KIND = 'capture.voice';
const DOCUMENT_KIND = 'capture.document';

/** Reads an uploaded original back for its job; a blob that is gone cannot come back, so the job fails at once. */
async function readBlob(blobs: BlobStore, key: string): Promise<Buffer> {
  try {
    return await blobs.get(key);
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw new PermanentJobError('BLOB_MISSING', 'The uploaded file is no longer in storage.', { blob: key });
    throw err;
  }
}

/** Reads the single uploaded file of a multipart request; over `limit` bytes → 413. */
async function readUpload(request: FastifyRequest, limit: number): Promise<{ bytes: Buffer; filename: string; fields: Record<string, string> }> {
  if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
  const fields: Record<string, string> = {};
  let file: { bytes: Buffer; filename: string } | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || file) {
          part.file.resume();
          continue;
        }
        file = { bytes: await part.toBuffer(), filename: part.filename };
      } else if (typeof part.value === 'string') {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new AppError('PAYLOAD_TOO_LARGE', { limit });
    throw err;
  }
  if (!file) throw new AppError('FILE_REQUIRED');
  return { ...file, fields };
}

/** Manual notes (synchronous) and voice notes (transcribed by a job) under /api/v1/capture. */
export async function register(app: App, deps: Deps): Promise<void> {
  const knowledge = new KnowledgeService(deps.database.db, deps.outbox);
  await app.register(multipart, { limits: { fileSize: deps.config.uploadLimit, files: 1, fields: 20, fieldSize: 64 * 1024 }, throwFileSizeLimit: true });

  const blobs = await createBlobStore(deps.config.blobs);

  deps.jobs.define<{ blob: string; language?: 'ar' | 'en'; actor: Actor; filename: string }>({
    kind: VOICE_KIND,
    retryLimit: 3,
    retryDelaySeconds: 5,
    timeoutSeconds: 900,
    // A worker that dies mid-capture is noticed within seconds, not half a minute.
    heartbeatSeconds: 10,
    handler: async ({ job, payload, progress, signal }) => {
      // One entry per job: an attempt cut off after creating its entry finds it again by its source ref.
      let transcript: { chars: number; structured: boolean; error?: string } | undefined;
      const entryId = await createOnce(deps.database.db, knowledge, payload.actor, { type: 'voice', ref: `blob:${payload.blob}#${job.id}` }, async () => {
        const audio = await readBlob(blobs, payload.blob);
        const t = await deps.ai.transcribe(audio, { ...(payload.language ? { language: payload.language } : {}), signal }).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'TRANSCRIPTION_UNAVAILABLE') throw new PermanentJobError('TRANSCRIPTION_UNAVAILABLE', 'No transcription provider is configured.');
          throw err;
        });
        await progress(60);
        const text = t.text.trim();
        if (!text) throw new PermanentJobError('EMPTY_TRANSCRIPT', 'The recording contains no speech that could be transcribed.');
        const shaped = await structureText(deps.ai, payload.actor.orgId, { text, what: 'the transcript of a voice note' }, signal);
        await progress(85);
        transcript = { chars: text.length, structured: shaped.structured, ...(shaped.fallbackReason ? { error: shaped.fallbackReason } : {}) };
        return {
          title: shaped.title,
          content: shaped.content,
          ...(shaped.summary ? { summary: shaped.summary } : {}),
          metadata: {
            filename: payload.filename,
            structured: shaped.structured,
            ...(shaped.structured ? { transcript: text } : {}),
            ...(t.durationS !== undefined ? { duration_s: t.durationS } : {}),
            ...(t.language ? { transcript_language: t.language } : {}),
          },
        };
      });
      return {
        entry_ids: [entryId],
        blob: payload.blob,
        ...(transcript ? { transcript_chars: transcript.chars, structured: transcript.structured, ...(transcript.error ? { structuring_error: transcript.error } : {}) } : {}),
      };
    },
  });

  app.post(
    '/api/v1/capture/manual/',
    {
      config: { auth: {}, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Capture a note as an entry (synchronous)',
        description: 'Without a title, one is made from the content: by the LLM when one is configured, else from the first sentence.',
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
      const actor = actorOf(request);
      const entry = await knowledge.create(actor, { ...b, title: b.title ?? (await titleFor(deps.ai, actor.orgId, b.content)), source: { type: 'manual' } });
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
      const { bytes, filename, fields } = await readUpload(request, deps.config.uploadLimit);
      const audioKind = detectAudio(bytes);
      if (!audioKind) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { accepted: ['mp3', 'm4a', 'wav', 'webm', 'ogg'] });
      const language = fields.language === 'ar' || fields.language === 'en' ? fields.language : undefined;
      const key = blobKey(actor.orgId, bytes, audioKind);
      await blobs.put(key, bytes);
      const job = await deps.database.db.transaction((tx) =>
        deps.jobs.enqueue(tx as never, { kind: VOICE_KIND, orgId: actor.orgId, createdBy: actor.userId ?? null, payload: { blob: key, filename, actor, ...(language ? { language } : {}) } }),
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
      const { bytes, fields } = await readUpload(request, deps.config.uploadLimit);
      if (!detectAudio(bytes)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { accepted: ['mp3', 'm4a', 'wav', 'webm', 'ogg'] });
      const language = fields.language === 'ar' || fields.language === 'en' ? fields.language : undefined;
      const t = await deps.ai.transcribe(bytes, language ? { language } : {});
      return { text: t.text, language: t.language ?? language ?? null, duration_s: t.durationS ?? null };
    },
  );

  deps.jobs.define<{ blob: string; kind: DocumentKind; filename: string; actor: Actor; options: DocumentOptions }>({
    kind: DOCUMENT_KIND,
    retryLimit: 3,
    retryDelaySeconds: 5,
    timeoutSeconds: 1800,
    heartbeatSeconds: 10,
    handler: async ({ job, payload, progress, db }) => {
      const bytes = await readBlob(blobs, payload.blob);
      const sections = await parseDocument(bytes, payload.kind, payload.filename, payload.options.split ?? 'sections', payload.options.csv_mapping);
      await progress(30);
      const entryIds: string[] = [];
      const errors: Array<{ section: number; code: string; message: string }> = [];
      for (let i = 0; i < sections.length; i++) {
        const s = sections[i]!;
        try {
          entryIds.push(
            await createOnce(db, knowledge, payload.actor, { type: 'document', ref: `blob:${payload.blob}#${job.id}:${i}` }, async () => ({
              title: s.title.slice(0, 300) || payload.filename.slice(0, 300),
              content: s.content.slice(0, 200_000),
              metadata: { filename: payload.filename, format: payload.kind, section: i },
              ...(payload.options.tag_ids ? { tag_ids: payload.options.tag_ids } : {}),
              ...(payload.options.department_id ? { department_id: payload.options.department_id } : {}),
              ...(payload.options.category_id ? { category_id: payload.options.category_id } : {}),
            })),
          );
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          errors.push({ section: i, code: err.code, message: errorMessage(err.code, 'en', { ...err.details, ...err.params }) });
        }
        await progress(30 + (70 * (i + 1)) / sections.length);
      }
      if (entryIds.length === 0 && errors.length > 0) throw new PermanentJobError('NO_ENTRIES_CREATED', 'No section of the document could be stored.', { errors });
      return { entry_ids: entryIds, sections: sections.length, errors, blob: payload.blob };
    },
  });

  app.post(
    '/api/v1/capture/documents/upload',
    {
      config: { auth: { minPlan: 'starter', feature: 'documents' } },
      schema: {
        tags: TAGS,
        summary: 'Upload a document; a job turns it into entries',
        description:
          'multipart/form-data with `file` (PDF with a text layer, DOCX, HTML, Markdown, plain text or CSV; the type is read from the bytes) and an ' +
          'optional `options` JSON: {"split": "sections" | "document", "tag_ids", "department_id", "category_id", "csv_mapping": {"title", "content"}}. ' +
          'Too large → 413; unsupported or mismatched type → 415. The original is kept and linked from each entry (source.ref).',
        consumes: ['multipart/form-data'],
        response: { 202: Type.Object({ job_id: Type.String({ format: 'uuid' }), status: Type.String() }) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const { bytes, filename, fields } = await readUpload(request, deps.config.uploadLimit);
      const kind = detectDocument(bytes, filename);
      const claimed = claimedKind(filename);
      const textKinds: DocumentKind[] = ['text', 'markdown', 'csv', 'html'];
      if (!kind || (claimed && claimed !== kind && !(textKinds.includes(claimed) && textKinds.includes(kind)))) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detected: kind ?? null, claimed: claimed ?? null, accepted: ['pdf', 'docx', 'html', 'markdown', 'text', 'csv'] });
      }
      let options: DocumentOptions = {};
      if (fields.options) {
        try {
          options = JSON.parse(fields.options) as DocumentOptions;
        } catch {
          throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'options', reason: 'must be JSON' }] });
        }
        if (options.split !== undefined && options.split !== 'sections' && options.split !== 'document') {
          throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'options.split', reason: 'must be one of: sections, document' }] });
        }
      }
      const key = blobKey(actor.orgId, bytes, filename.split('.').pop() ?? 'bin');
      await blobs.put(key, bytes);
      const job = await deps.database.db.transaction((tx) =>
        deps.jobs.enqueue(tx as never, { kind: DOCUMENT_KIND, orgId: actor.orgId, createdBy: actor.userId ?? null, payload: { blob: key, kind, filename, actor, options } }),
      );
      return reply.code(202).send({ job_id: job.id, status: job.status });
    },
  );

  for (const [path, kind, auth] of [
    ['documents', DOCUMENT_KIND, { minPlan: 'starter' as const, feature: 'documents' }],
    ['voice', VOICE_KIND, {}],
  ] as const) {
    app.get(
      `/api/v1/capture/${path}/jobs`,
      {
        config: { auth },
        schema: {
          tags: TAGS,
          summary: `${path === 'voice' ? 'Voice' : 'Document'} capture jobs`,
          querystring: Type.Object({ ...PaginationQuery, status: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')])) }),
          response: { 200: Paginated(Job) },
        },
      },
      async (request) => {
        const q = request.query as { page?: number; per_page?: number; status?: JobRow['status'] };
        const page = pageRequest(q);
        const { rows, total } = await deps.jobs.list(actorOf(request).orgId, { kinds: [kind], limit: page.limit, offset: page.offset, ...(q.status ? { status: q.status } : {}) });
        return pageOf(rows.map(presentJob), total, page);
      },
    );
    app.get(
      `/api/v1/capture/${path}/jobs/:job_id`,
      { config: { auth }, schema: { tags: TAGS, summary: `One ${path} capture job`, params: Type.Object({ job_id: Type.String({ format: 'uuid' }) }), response: { 200: Job } } },
      async (request) => presentJob(await deps.jobs.get(actorOf(request).orgId, (request.params as { job_id: string }).job_id, [kind])),
    );
    app.post(
      `/api/v1/capture/${path}/jobs/:job_id/retry`,
      {
        config: { auth },
        schema: {
          tags: TAGS,
          summary: `Run a failed ${path} capture job again`,
          description: 'Only a failed job can be retried (else 409 JOB_NOT_FAILED). Entries an earlier attempt already made are kept, never made twice.',
          params: Type.Object({ job_id: Type.String({ format: 'uuid' }) }),
          response: { 202: Job },
        },
      },
      async (request, reply) => reply.code(202).send(presentJob(await deps.jobs.retry(actorOf(request).orgId, (request.params as { job_id: string }).job_id, [kind]))),
    );
  }
}

interface DocumentOptions {
  split?: 'sections' | 'document';
  tag_ids?: string[];
  department_id?: string;
  category_id?: string;
  csv_mapping?: { title?: string; content?: string };
}
