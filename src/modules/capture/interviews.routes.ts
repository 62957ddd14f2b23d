import { and, count, desc, eq } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { departments, interviewAnswers, interviewSessions, interviewTemplates, locations, shiftLogs, users, type HandoverItem } from '../../db/schema/index.ts';
import { actorOf, type Actor } from '../../platform/auth/guard.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { Paginated, PaginationQuery, pageOf, pageRequest } from '../../platform/http/pagination.ts';
import { KnowledgeService } from '../knowledge/knowledge.service.ts';
import { Job, presentJob } from './capture.schemas.ts';
import { createOnce } from './capture.entries.ts';
import { extractShiftItems, structureText } from './structure.ts';

defineErrors({
  SESSION_CLOSED: { status: 409, en: 'This interview session is {status} and accepts no more changes.', ar: 'جلسة المقابلة هذه {status} ولا تقبل تعديلات أخرى.' },
  REQUIRED_UNANSWERED: { status: 422, en: 'Required questions are unanswered: {question_ids}.', ar: 'أسئلة مطلوبة بلا إجابة: {question_ids}.' },
  UNKNOWN_QUESTION: { status: 422, en: 'The template has no question {question_id}.', ar: 'لا يحتوي القالب على السؤال {question_id}.' },
  SHIFT_LOG_SUBMITTED: { status: 409, en: 'This shift log is already submitted and can no longer be edited.', ar: 'سُلّم سجل المناوبة هذا ولا يمكن تعديله بعد الآن.' },
});

const TAGS = ['capture'];
const Uuid = Type.String({ format: 'uuid' });
const growth = { minPlan: 'growth' as const, feature: 'interviews' };
const Question = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  text: Type.String({ minLength: 1, maxLength: 2000 }),
  text_ar: Type.Optional(Type.String({ maxLength: 2000 })),
  hint: Type.Optional(Type.String({ maxLength: 2000 })),
  required: Type.Boolean(),
});
const TemplateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 5000 })),
  language: Type.Union([Type.Literal('ar'), Type.Literal('en')]),
  department_id: Type.Optional(Uuid),
  questions: Type.Array(Question, { minItems: 1, maxItems: 100 }),
});
const Item = Type.Object({ title: Type.String({ minLength: 1, maxLength: 300 }), detail: Type.String({ maxLength: 20_000 }), priority: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]) });
const ShiftBody = Type.Object({
  shift_date: Type.String({ format: 'date' }),
  shift_type: Type.String({ minLength: 1, maxLength: 50 }),
  location_id: Type.Optional(Uuid),
  department_id: Type.Optional(Uuid),
  notes: Type.String({ maxLength: 100_000 }),
  handover_items: Type.Array(Item, { maxItems: 200 }),
});
const IdParams = Type.Object({ id: Uuid });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Template = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Nullable(Type.String()),
  language: Type.String(),
  department_id: Nullable(Uuid),
  questions: Type.Array(Question),
  active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const Session = Type.Object({
  id: Uuid,
  template_id: Uuid,
  interviewee_id: Nullable(Uuid),
  status: Type.Union([Type.Literal('in_progress'), Type.Literal('completing'), Type.Literal('completed'), Type.Literal('cancelled')]),
  questions: Type.Array(Question),
  answers: Type.Array(Type.Object({ question_id: Type.String(), answer: Type.String(), updated_at: Type.String({ format: 'date-time' }) })),
  job_id: Nullable(Uuid),
  job: Nullable(Job),
  created_at: Type.String({ format: 'date-time' }),
});
const ShiftLog = Type.Object({
  id: Uuid,
  shift_date: Type.String(),
  shift_type: Type.String(),
  location_id: Nullable(Uuid),
  department_id: Nullable(Uuid),
  notes: Type.String(),
  handover_items: Type.Array(Item),
  extracted: Nullable(Type.Array(Type.Object({ kind: Type.String(), title: Type.String(), content: Type.String() }))),
  status: Type.Union([Type.Literal('draft'), Type.Literal('submitted')]),
  author_id: Nullable(Uuid),
  job_id: Nullable(Uuid),
  job: Nullable(Job),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

async function assertInOrg(db: Db, orgId: string, refs: { department_id?: string | undefined; location_id?: string | undefined; user_id?: string | undefined }) {
  const checks: Array<[string, string | undefined, typeof departments | typeof locations | typeof users]> = [
    ['department', refs.department_id, departments],
    ['location', refs.location_id, locations],
    ['user', refs.user_id, users],
  ];
  for (const [resource, id, table] of checks) {
    if (!id) continue;
    const [row] = await db.select({ id: table.id }).from(table).where(and(eq(table.id, id), eq(table.orgId, orgId)));
    if (!row) throw new AppError('NOT_FOUND', { resource, id });
  }
}

/** Answers name their question by id, so a template's ids must be unique. */
function uniqueQuestionIds(questions: ReadonlyArray<{ id: string }>): void {
  if (new Set(questions.map((q) => q.id)).size !== questions.length) throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'questions', reason: 'question ids must be unique' }] });
}

/** Structured interviews and shift logs under /api/v1/capture/interviews; both become entries through jobs. */
export function register(app: App, deps: Deps): void {
  const db = deps.database.db;
  const knowledge = new KnowledgeService(db, deps.outbox);

  /** The state of the job that turns a session or a log into entries, shown with it. */
  const jobOf = async (orgId: string, jobId: string | null) => (jobId ? presentJob(await deps.jobs.get(orgId, jobId)) : null);
  const presentTemplate = (t: typeof interviewTemplates.$inferSelect) => ({
    id: t.id,
    name: t.name,
    description: t.description,
    language: t.language,
    department_id: t.departmentId,
    questions: t.questions,
    active: t.active,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  });
  const template = async (orgId: string, id: string) => {
    const [t] = await db.select().from(interviewTemplates).where(and(eq(interviewTemplates.id, id), eq(interviewTemplates.orgId, orgId)));
    if (!t) throw new AppError('NOT_FOUND', { resource: 'template' });
    return t;
  };
  const session = async (orgId: string, id: string) => {
    const [s] = await db.select().from(interviewSessions).where(and(eq(interviewSessions.id, id), eq(interviewSessions.orgId, orgId)));
    if (!s) throw new AppError('NOT_FOUND', { resource: 'session' });
    return s;
  };
  const presentSession = async (s: typeof interviewSessions.$inferSelect) => {
    const answers = await db.select().from(interviewAnswers).where(eq(interviewAnswers.sessionId, s.id));
    return {
      id: s.id,
      template_id: s.templateId,
      interviewee_id: s.intervieweeId,
      status: s.status,
      questions: s.questions,
      answers: answers.map((a) => ({ question_id: a.questionId, answer: a.answer, updated_at: a.updatedAt.toISOString() })),
      job_id: s.jobId,
      job: await jobOf(s.orgId, s.jobId),
      created_at: s.createdAt.toISOString(),
    };
  };

  deps.jobs.define<{ sessionId: string; actor: Actor }>({
    kind: 'capture.interview',
    retryLimit: 3,
    handler: async ({ payload, progress, signal }) => {
      const s = await session(payload.actor.orgId, payload.sessionId);
      const answers = await db.select().from(interviewAnswers).where(eq(interviewAnswers.sessionId, s.id));
      const [t] = await db.select().from(interviewTemplates).where(eq(interviewTemplates.id, s.templateId));
      const ids: string[] = [];
      let structured = 0;
      const answered = s.questions.filter((q) => answers.find((x) => x.questionId === q.id)?.answer.trim());
      for (const [i, q] of answered.entries()) {
        const a = answers.find((x) => x.questionId === q.id)!;
        const ref = `interview:${s.id}:${q.id}`;
        const question = t?.language === 'ar' ? (q.text_ar ?? q.text) : q.text;
        ids.push(
          await createOnce(db, knowledge, payload.actor, { type: 'interview', ref }, async () => {
            // The LLM, when configured, turns the answer into an entry that reads on its own; the question gives it context.
            const shaped = await structureText(deps.ai, payload.actor.orgId, { text: a.answer, what: 'an expert\'s answer in a knowledge-capture interview', context: `Interview question: ${question}`, fallbackTitle: question }, signal);
            if (shaped.structured) structured += 1;
            return {
              title: shaped.title,
              content: shaped.content,
              ...(shaped.summary ? { summary: shaped.summary } : {}),
              expert_ids: s.intervieweeId ? [s.intervieweeId] : [],
              ...(t?.departmentId ? { department_id: t.departmentId } : {}),
              metadata: { interview_session_id: s.id, question_id: q.id, question, template_id: s.templateId, structured: shaped.structured },
            };
          }),
        );
        await progress(((i + 1) / answered.length) * 100);
      }
      await db.update(interviewSessions).set({ status: 'completed', updatedAt: new Date() }).where(eq(interviewSessions.id, s.id));
      return { entry_ids: ids, structured };
    },
  });

  deps.jobs.define<{ logId: string; actor: Actor }>({
    kind: 'capture.shift_log',
    retryLimit: 3,
    handler: async ({ payload, signal }) => {
      const [log] = await db.select().from(shiftLogs).where(and(eq(shiftLogs.id, payload.logId), eq(shiftLogs.orgId, payload.actor.orgId)));
      if (!log) return { entry_ids: [] };
      const ids: string[] = [];
      const common = { ...(log.departmentId ? { department_id: log.departmentId } : {}), ...(log.locationId ? { location_id: log.locationId } : {}) };
      const meta = { shift_log_id: log.id, shift_date: log.shiftDate, shift_type: log.shiftType };
      for (const [i, item] of log.handoverItems.entries()) {
        ids.push(
          await createOnce(db, knowledge, payload.actor, { type: 'shift_log', ref: `shift_log:${log.id}:item:${i}` }, async () => ({
            title: item.title,
            content: item.detail || item.title,
            ...common,
            metadata: { ...meta, kind: 'handover', priority: item.priority },
          })),
        );
      }
      if (log.notes.trim()) {
        // The incidents and procedures the notes record become entries of their own when an LLM is
        // configured; otherwise the notes are one entry. What they became is kept on the log first, so
        // a retry makes the same entries, and the log keeps the notes whole either way.
        let items = log.extracted;
        if (!items) {
          items = (await extractShiftItems(deps.ai, log.orgId, log.notes, signal)) ?? [{ kind: 'notes', title: `${log.shiftType} shift ${log.shiftDate}`.slice(0, 300), content: log.notes }];
          await db.update(shiftLogs).set({ extracted: items }).where(eq(shiftLogs.id, log.id));
        }
        for (const [i, item] of items.entries()) {
          ids.push(
            await createOnce(db, knowledge, payload.actor, { type: 'shift_log', ref: `shift_log:${log.id}:notes:${i}` }, async () => ({
              title: item.title,
              content: item.content,
              ...common,
              metadata: { ...meta, kind: item.kind },
            })),
          );
        }
      }
      return { entry_ids: ids };
    },
  });

  const P = '/api/v1/capture/interviews';

  app.get(`${P}/templates`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'Interview templates', querystring: Type.Object({ ...PaginationQuery }), response: { 200: Paginated(Template) } } }, async (request) => {
    const actor = actorOf(request);
    const page = pageRequest(request.query);
    const where = and(eq(interviewTemplates.orgId, actor.orgId), eq(interviewTemplates.active, true));
    const [rows, [total]] = await Promise.all([
      db.select().from(interviewTemplates).where(where).orderBy(desc(interviewTemplates.createdAt)).limit(page.limit).offset(page.offset),
      db.select({ n: count() }).from(interviewTemplates).where(where),
    ]);
    return pageOf(rows.map(presentTemplate), total?.n ?? 0, page);
  });
  app.post(`${P}/templates`, { config: { auth: { ...growth, minRole: 'manager' }, idempotent: true }, schema: { tags: TAGS, summary: 'Create a template', body: TemplateBody, response: { 201: Template } } }, async (request, reply) => {
    const actor = actorOf(request);
    const b = request.body;
    uniqueQuestionIds(b.questions);
    await assertInOrg(db, actor.orgId, { department_id: b.department_id });
    const [row] = await db
      .insert(interviewTemplates)
      .values({ id: newId(), orgId: actor.orgId, name: b.name, description: b.description ?? null, language: b.language, departmentId: b.department_id ?? null, questions: b.questions, createdBy: actor.userId ?? null })
      .returning();
    return reply.code(201).send(presentTemplate(row!));
  });
  app.get(`${P}/templates/:id`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'One template', params: IdParams, response: { 200: Template } } }, async (request) =>
    presentTemplate(await template(actorOf(request).orgId, request.params.id)),
  );
  app.put(`${P}/templates/:id`, { config: { auth: { ...growth, minRole: 'manager' } }, schema: { tags: TAGS, summary: 'Update a template', params: IdParams, body: TemplateBody, response: { 200: Template } } }, async (request) => {
    const actor = actorOf(request);
    await template(actor.orgId, request.params.id);
    const b = request.body;
    uniqueQuestionIds(b.questions);
    await assertInOrg(db, actor.orgId, { department_id: b.department_id });
    // Sessions already started keep the questions they were started with.
    const [row] = await db
      .update(interviewTemplates)
      .set({ name: b.name, description: b.description ?? null, language: b.language, departmentId: b.department_id ?? null, questions: b.questions, updatedAt: new Date() })
      .where(and(eq(interviewTemplates.id, request.params.id), eq(interviewTemplates.orgId, actor.orgId)))
      .returning();
    return presentTemplate(row!);
  });
  app.delete(`${P}/templates/:id`, { config: { auth: { ...growth, minRole: 'manager' } }, schema: { tags: TAGS, summary: 'Deactivate a template', params: IdParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    const actor = actorOf(request);
    await template(actor.orgId, request.params.id);
    await db.update(interviewTemplates).set({ active: false, updatedAt: new Date() }).where(and(eq(interviewTemplates.id, request.params.id), eq(interviewTemplates.orgId, actor.orgId)));
    return reply.code(204).send(null);
  });

  app.post(
    `${P}/sessions`,
    { config: { auth: growth, idempotent: true }, schema: { tags: TAGS, summary: 'Start an interview session', body: Type.Object({ template_id: Uuid, interviewee_id: Type.Optional(Uuid) }), response: { 201: Session } } },
    async (request, reply) => {
      const actor = actorOf(request);
      const t = await template(actor.orgId, request.body.template_id);
      if (!t.active) throw new AppError('NOT_FOUND', { resource: 'template' });
      await assertInOrg(db, actor.orgId, { user_id: request.body.interviewee_id });
      const [s] = await db
        .insert(interviewSessions)
        .values({ id: newId(), orgId: actor.orgId, templateId: t.id, intervieweeId: request.body.interviewee_id ?? null, interviewerId: actor.userId ?? null, questions: t.questions })
        .returning();
      return reply.code(201).send(await presentSession(s!));
    },
  );
  app.get(`${P}/sessions`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'Interview sessions', querystring: Type.Object({ ...PaginationQuery }), response: { 200: Paginated(Session) } } }, async (request) => {
    const actor = actorOf(request);
    const page = pageRequest(request.query);
    const [rows, [total]] = await Promise.all([
      db.select().from(interviewSessions).where(eq(interviewSessions.orgId, actor.orgId)).orderBy(desc(interviewSessions.createdAt)).limit(page.limit).offset(page.offset),
      db.select({ n: count() }).from(interviewSessions).where(eq(interviewSessions.orgId, actor.orgId)),
    ]);
    return pageOf(await Promise.all(rows.map(presentSession)), total?.n ?? 0, page);
  });
  app.get(`${P}/sessions/:id`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'A session with its answers and the state of its job', params: IdParams, response: { 200: Session } } }, async (request) =>
    presentSession(await session(actorOf(request).orgId, request.params.id)),
  );
  app.post(
    `${P}/sessions/:id/answers`,
    {
      config: { auth: growth },
      schema: { tags: TAGS, summary: 'Answer a question (answering again replaces)', params: IdParams, body: Type.Object({ question_id: Type.String({ minLength: 1, maxLength: 64 }), answer: Type.String({ minLength: 1, maxLength: 100_000 }) }), response: { 200: Session } },
    },
    async (request) => {
      const actor = actorOf(request);
      const s = await session(actor.orgId, request.params.id);
      if (s.status !== 'in_progress') throw new AppError('SESSION_CLOSED', { status: s.status });
      if (!s.questions.some((q) => q.id === request.body.question_id)) throw new AppError('UNKNOWN_QUESTION', { question_id: request.body.question_id });
      await db
        .insert(interviewAnswers)
        .values({ id: newId(), orgId: actor.orgId, sessionId: s.id, questionId: request.body.question_id, answer: request.body.answer, answeredBy: actor.userId ?? null })
        .onConflictDoUpdate({ target: [interviewAnswers.sessionId, interviewAnswers.questionId], set: { answer: request.body.answer, updatedAt: new Date(), answeredBy: actor.userId ?? null } });
      return presentSession(s);
    },
  );
  app.post(
    `${P}/sessions/:id/complete`,
    { config: { auth: growth }, schema: { tags: TAGS, summary: 'Complete a session: a job turns the answers into entries', params: IdParams, response: { 202: Type.Object({ job_id: Uuid, status: Type.String() }) } } },
    async (request, reply) => {
      const actor = actorOf(request);
      const s = await session(actor.orgId, request.params.id);
      if (s.status !== 'in_progress') throw new AppError('SESSION_CLOSED', { status: s.status });
      const answered = new Set((await db.select({ q: interviewAnswers.questionId }).from(interviewAnswers).where(eq(interviewAnswers.sessionId, s.id))).map((r) => r.q));
      const missing = s.questions.filter((q) => q.required && !answered.has(q.id)).map((q) => q.id);
      if (missing.length > 0) throw new AppError('REQUIRED_UNANSWERED', { question_ids: missing });
      const job = await db.transaction(async (t) => {
        const tx = t as unknown as Tx;
        const moved = await tx
          .update(interviewSessions)
          .set({ status: 'completing', updatedAt: new Date() })
          .where(and(eq(interviewSessions.id, s.id), eq(interviewSessions.status, 'in_progress')))
          .returning({ id: interviewSessions.id });
        if (moved.length === 0) throw new AppError('SESSION_CLOSED', { status: 'completing' });
        const j = await deps.jobs.enqueue(tx, { kind: 'capture.interview', orgId: actor.orgId, createdBy: actor.userId ?? null, payload: { sessionId: s.id, actor } });
        await tx.update(interviewSessions).set({ jobId: j.id }).where(eq(interviewSessions.id, s.id));
        return j;
      });
      return reply.code(202).send({ job_id: job.id, status: job.status });
    },
  );
  app.delete(`${P}/sessions/:id`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'Cancel a session (answers are kept)', params: IdParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    const actor = actorOf(request);
    const s = await session(actor.orgId, request.params.id);
    if (s.status !== 'in_progress') throw new AppError('SESSION_CLOSED', { status: s.status });
    await db.update(interviewSessions).set({ status: 'cancelled', updatedAt: new Date() }).where(eq(interviewSessions.id, s.id));
    return reply.code(204).send(null);
  });

  const presentLog = async (l: typeof shiftLogs.$inferSelect) => ({
    id: l.id,
    shift_date: l.shiftDate,
    shift_type: l.shiftType,
    location_id: l.locationId,
    department_id: l.departmentId,
    notes: l.notes,
    handover_items: l.handoverItems,
    extracted: l.extracted ?? null,
    status: l.status,
    author_id: l.authorId,
    job_id: l.jobId,
    job: await jobOf(l.orgId, l.jobId),
    created_at: l.createdAt.toISOString(),
    updated_at: l.updatedAt.toISOString(),
  });
  const log = async (orgId: string, id: string) => {
    const [l] = await db.select().from(shiftLogs).where(and(eq(shiftLogs.id, id), eq(shiftLogs.orgId, orgId)));
    if (!l) throw new AppError('NOT_FOUND', { resource: 'shift_log' });
    return l;
  };

  app.post(`${P}/shift-logs`, { config: { auth: growth, idempotent: true }, schema: { tags: TAGS, summary: 'Create a shift log (draft)', body: ShiftBody, response: { 201: ShiftLog } } }, async (request, reply) => {
    const actor = actorOf(request);
    const b = request.body;
    await assertInOrg(db, actor.orgId, { department_id: b.department_id, location_id: b.location_id });
    const [row] = await db
      .insert(shiftLogs)
      .values({ id: newId(), orgId: actor.orgId, shiftDate: b.shift_date, shiftType: b.shift_type, locationId: b.location_id ?? null, departmentId: b.department_id ?? null, notes: b.notes, handoverItems: b.handover_items as HandoverItem[], authorId: actor.userId ?? null })
      .returning();
    return reply.code(201).send(await presentLog(row!));
  });
  app.get(`${P}/shift-logs`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'Shift logs', querystring: Type.Object({ ...PaginationQuery }), response: { 200: Paginated(ShiftLog) } } }, async (request) => {
    const actor = actorOf(request);
    const page = pageRequest(request.query);
    const [rows, [total]] = await Promise.all([
      db.select().from(shiftLogs).where(eq(shiftLogs.orgId, actor.orgId)).orderBy(desc(shiftLogs.createdAt)).limit(page.limit).offset(page.offset),
      db.select({ n: count() }).from(shiftLogs).where(eq(shiftLogs.orgId, actor.orgId)),
    ]);
    return pageOf(await Promise.all(rows.map(presentLog)), total?.n ?? 0, page);
  });
  app.get(`${P}/shift-logs/:id`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'One shift log with the state of its job', params: IdParams, response: { 200: ShiftLog } } }, async (request) =>
    presentLog(await log(actorOf(request).orgId, request.params.id)),
  );
  app.put(`${P}/shift-logs/:id`, { config: { auth: growth }, schema: { tags: TAGS, summary: 'Update a draft shift log', params: IdParams, body: ShiftBody, response: { 200: ShiftLog } } }, async (request) => {
    const actor = actorOf(request);
    const l = await log(actor.orgId, request.params.id);
    if (l.status !== 'draft') throw new AppError('SHIFT_LOG_SUBMITTED');
    const b = request.body;
    await assertInOrg(db, actor.orgId, { department_id: b.department_id, location_id: b.location_id });
    const [row] = await db
      .update(shiftLogs)
      .set({ shiftDate: b.shift_date, shiftType: b.shift_type, locationId: b.location_id ?? null, departmentId: b.department_id ?? null, notes: b.notes, handoverItems: b.handover_items as HandoverItem[], updatedAt: new Date() })
      .where(and(eq(shiftLogs.id, l.id), eq(shiftLogs.status, 'draft')))
      .returning();
    if (!row) throw new AppError('SHIFT_LOG_SUBMITTED');
    return await presentLog(row);
  });
  app.post(
    `${P}/shift-logs/:id/submit`,
    { config: { auth: growth }, schema: { tags: TAGS, summary: 'Submit a shift log: a job extracts entries from it', params: IdParams, response: { 202: Type.Object({ job_id: Uuid, status: Type.String() }) } } },
    async (request, reply) => {
      const actor = actorOf(request);
      const l = await log(actor.orgId, request.params.id);
      const job = await db.transaction(async (t) => {
        const tx = t as unknown as Tx;
        const moved = await tx.update(shiftLogs).set({ status: 'submitted', updatedAt: new Date() }).where(and(eq(shiftLogs.id, l.id), eq(shiftLogs.status, 'draft'))).returning({ id: shiftLogs.id });
        if (moved.length === 0) throw new AppError('SHIFT_LOG_SUBMITTED');
        const j = await deps.jobs.enqueue(tx, { kind: 'capture.shift_log', orgId: actor.orgId, createdBy: actor.userId ?? null, payload: { logId: l.id, actor } });
        await tx.update(shiftLogs).set({ jobId: j.id }).where(eq(shiftLogs.id, l.id));
        return j;
      });
      return reply.code(202).send({ job_id: job.id, status: job.status });
    },
  );
}
