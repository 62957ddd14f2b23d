import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const ENTRY_SOURCES = ['manual', 'document', 'voice', 'interview', 'shift_log', 'integration', 'import', 'api'] as const;
export const RELATION_TYPES = ['related', 'depends_on', 'supersedes', 'contradicts', 'duplicate_of', 'part_of'] as const;

/** A flag raised on an entry that someone thinks needs review. */
export interface ReviewFlag {
  user_id: string | null;
  reason: string;
  at: string;
}

/** One piece of institutional knowledge. */
export const knowledgeEntries = pgTable(
  'knowledge_entries',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    title: text('title').notNull(),
    content: text('content').notNull(),
    summary: text('summary'),
    language: text('language', { enum: ['ar', 'en', 'mixed'] }).notNull(),
    status: text('status', { enum: ['active', 'needs_review', 'archived'] }).notNull().default('active'),
    verified: boolean('verified').notNull().default(false),
    verifiedBy: uuid('verified_by'),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    reviewDueAt: timestamp('review_due_at', { withTimezone: true }),
    sourceType: text('source_type', { enum: ENTRY_SOURCES }).notNull().default('manual'),
    sourceRef: text('source_ref'),
    authorId: uuid('author_id'),
    departmentId: uuid('department_id'),
    categoryId: uuid('category_id'),
    locationId: uuid('location_id'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    flags: jsonb('flags').$type<ReviewFlag[]>().notNull().default([]),
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('entries_org_status_created_idx').on(t.orgId, t.status, t.createdAt),
    index('entries_org_updated_idx').on(t.orgId, t.updatedAt),
    index('entries_org_department_idx').on(t.orgId, t.departmentId, t.createdAt),
    // Lets counts of filtered lists run as index-only scans (status and id without visiting the rows).
    index('entries_org_department_status_idx').on(t.orgId, t.departmentId, t.status, t.id),
    index('entries_org_category_idx').on(t.orgId, t.categoryId, t.createdAt),
    index('entries_org_author_idx').on(t.orgId, t.authorId, t.createdAt),
    index('entries_org_language_idx').on(t.orgId, t.language, t.createdAt),
    // Capture jobs look up the entry an item became by its source ref before making it (idempotent retries).
    index('entries_org_source_ref_idx').on(t.orgId, t.sourceRef).where(sql`source_ref IS NOT NULL`),
  ],
);

export const entryTags = pgTable(
  'entry_tags',
  {
    orgId: uuid('org_id').notNull(),
    entryId: uuid('entry_id').notNull(),
    tagId: uuid('tag_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.entryId, t.tagId] }), index('entry_tags_org_tag_idx').on(t.orgId, t.tagId, t.entryId)],
);

export const entryExperts = pgTable(
  'entry_experts',
  {
    orgId: uuid('org_id').notNull(),
    entryId: uuid('entry_id').notNull(),
    userId: uuid('user_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.entryId, t.userId] }), index('entry_experts_org_user_idx').on(t.orgId, t.userId, t.entryId)],
);

/** A full snapshot of an entry at each version. */
export const entryVersions = pgTable(
  'entry_versions',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    entryId: uuid('entry_id').notNull(),
    version: integer('version').notNull(),
    snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull(),
    changedBy: uuid('changed_by'),
    changeNote: text('change_note'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('entry_versions_entry_version_idx').on(t.entryId, t.version)],
);

export const entryRelations = pgTable(
  'entry_relations',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    fromId: uuid('from_id').notNull(),
    toId: uuid('to_id').notNull(),
    relationType: text('relation_type', { enum: RELATION_TYPES }).notNull(),
    note: text('note'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('entry_relations_pair_idx').on(t.fromId, t.toId, t.relationType), index('entry_relations_to_idx').on(t.toId)],
);

export const tags = pgTable(
  'tags',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    name: text('name').notNull(),
    nameAr: text('name_ar'),
    nameEn: text('name_en'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('tags_org_name_idx').on(t.orgId, sql`lower(${t.name})`)],
);

export const departments = pgTable(
  'departments',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    name: text('name').notNull(),
    nameAr: text('name_ar'),
    description: text('description'),
    leadUserId: uuid('lead_user_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('departments_org_idx').on(t.orgId, t.name)],
);

export const categories = pgTable(
  'categories',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    name: text('name').notNull(),
    nameAr: text('name_ar'),
    parentId: uuid('parent_id'),
    active: boolean('active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('categories_org_parent_idx').on(t.orgId, t.parentId)],
);

/** Who did what to which entity, for the activity feed and audit. */
export const activity = pgTable(
  'activity',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    actorId: uuid('actor_id'),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: uuid('entity_id').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('activity_org_created_idx').on(t.orgId, t.createdAt), index('activity_entity_idx').on(t.entityId)],
);
