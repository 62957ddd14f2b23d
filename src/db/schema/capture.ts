import { boolean, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** One question of an interview template. */
export interface TemplateQuestion {
  id: string;
  text: string;
  text_ar?: string;
  hint?: string;
  required: boolean;
}

export const interviewTemplates = pgTable(
  'interview_templates',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    language: text('language', { enum: ['ar', 'en'] }).notNull(),
    departmentId: uuid('department_id'),
    questions: jsonb('questions').$type<TemplateQuestion[]>().notNull(),
    active: boolean('active').notNull().default(true),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('interview_templates_org_idx').on(t.orgId, t.createdAt)],
);

export const interviewSessions = pgTable(
  'interview_sessions',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    templateId: uuid('template_id').notNull(),
    intervieweeId: uuid('interviewee_id'),
    interviewerId: uuid('interviewer_id'),
    status: text('status', { enum: ['in_progress', 'completing', 'completed', 'cancelled'] }).notNull().default('in_progress'),
    questions: jsonb('questions').$type<TemplateQuestion[]>().notNull(),
    jobId: uuid('job_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('interview_sessions_org_idx').on(t.orgId, t.createdAt)],
);

export const interviewAnswers = pgTable(
  'interview_answers',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    questionId: text('question_id').notNull(),
    answer: text('answer').notNull(),
    answeredBy: uuid('answered_by'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('interview_answers_session_question_idx').on(t.sessionId, t.questionId)],
);

/** An item handed over from one shift to the next. */
export interface HandoverItem {
  title: string;
  detail: string;
  priority: 'low' | 'medium' | 'high';
}

/** A piece of knowledge a submitted shift log's notes were turned into (kept so a retried job makes the same entries). */
export interface ShiftLogItem {
  kind: 'incident' | 'procedure' | 'note' | 'notes';
  title: string;
  content: string;
}

export const shiftLogs = pgTable(
  'shift_logs',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    shiftDate: text('shift_date').notNull(),
    shiftType: text('shift_type').notNull(),
    locationId: uuid('location_id'),
    departmentId: uuid('department_id'),
    notes: text('notes').notNull(),
    handoverItems: jsonb('handover_items').$type<HandoverItem[]>().notNull().default([]),
    /** What the notes were turned into on submission; null until the job has read them. */
    extracted: jsonb('extracted').$type<ShiftLogItem[]>(),
    status: text('status', { enum: ['draft', 'submitted'] }).notNull().default('draft'),
    authorId: uuid('author_id'),
    jobId: uuid('job_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('shift_logs_org_idx').on(t.orgId, t.createdAt)],
);
