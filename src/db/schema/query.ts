import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, real, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** One question asked of the knowledge base, with what was answered. */
export const queryLog = pgTable(
  'query_log',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    userId: uuid('user_id'),
    apiKeyId: uuid('api_key_id'),
    question: text('question').notNull(),
    language: text('language').notNull(),
    answer: text('answer').notNull(),
    answered: boolean('answered').notNull(),
    confidence: real('confidence').notNull(),
    citations: jsonb('citations').$type<Array<{ entry_id: string; chunk_id: string | null; title: string; score: number }>>().notNull().default([]),
    gapId: uuid('gap_id'),
    mode: text('mode').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('query_log_org_user_idx').on(t.orgId, t.userId, t.createdAt), index('query_log_org_created_idx').on(t.orgId, t.createdAt)],
);

/** A question Tadween could not answer yet; similar questions raise its ask count. */
export const knowledgeGaps = pgTable(
  'knowledge_gaps',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    question: text('question').notNull(),
    /** Sorted, de-duplicated normalised terms of the question: the key for "the same question". */
    normalized: text('normalized').notNull(),
    terms: jsonb('terms').$type<string[]>().notNull().default([]),
    language: text('language').notNull(),
    askCount: integer('ask_count').notNull().default(1),
    status: text('status', { enum: ['open', 'resolved'] }).notNull().default('open'),
    firstAskedAt: timestamp('first_asked_at', { withTimezone: true }).notNull().defaultNow(),
    lastAskedAt: timestamp('last_asked_at', { withTimezone: true }).notNull().defaultNow(),
    resolvedEntryId: uuid('resolved_entry_id'),
    resolvedBy: uuid('resolved_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
  },
  (t) => [index('knowledge_gaps_org_status_idx').on(t.orgId, t.status, t.lastAskedAt), index('knowledge_gaps_org_norm_idx').on(t.orgId, t.normalized).where(sql`status = 'open'`)],
);
