import { and, asc, count, desc, eq, gt, gte, ilike, inArray, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import {
  activity,
  categories,
  departments,
  entryExperts,
  entryRelations,
  entryTags,
  entryVersions,
  knowledgeEntries,
  locations,
  tags,
  users,
  type ENTRY_SOURCES,
  type RELATION_TYPES,
} from '../../db/schema/index.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { pageOf, type PageRequest } from '../../platform/http/pagination.ts';
import type { Outbox } from '../../platform/jobs/outbox.ts';
import { detectLanguage } from '../../platform/text/language.ts';

defineErrors({
  VERSION_CONFLICT: {
    status: 409,
    en: 'The entry was changed by someone else (current version {current_version}); reload and try again.',
    ar: 'عدّل شخص آخر هذا المدخل (الإصدار الحالي {current_version})؛ أعد التحميل ثم حاول مجددًا.',
  },
  RELATION_TO_SELF: { status: 422, en: 'An entry cannot be related to itself.', ar: 'لا يمكن ربط مدخل بنفسه.' },
  RELATION_EXISTS: { status: 409, en: 'These entries are already related this way.', ar: 'هذان المدخلان مرتبطان بهذه العلاقة بالفعل.' },
  TAG_EXISTS: { status: 409, en: 'A tag with this name already exists.', ar: 'يوجد وسم بهذا الاسم بالفعل.' },
  CATEGORY_CYCLE: { status: 422, en: 'A category cannot be moved under itself or its descendants.', ar: 'لا يمكن نقل تصنيف تحت نفسه أو تحت أحد فروعه.' },
});

export type EntrySource = (typeof ENTRY_SOURCES)[number];
export type RelationType = (typeof RELATION_TYPES)[number];
type EntryRow = typeof knowledgeEntries.$inferSelect;

export interface EntryInput {
  title: string;
  content: string;
  summary?: string | null;
  language?: 'ar' | 'en' | 'mixed';
  status?: 'active' | 'needs_review' | 'archived';
  source?: { type: EntrySource; ref?: string | null };
  expert_ids?: string[];
  department_id?: string | null;
  category_id?: string | null;
  tag_ids?: string[];
  location_id?: string | null;
  metadata?: Record<string, unknown>;
}

export interface ListFilters {
  tag_ids?: string[];
  department_id?: string;
  category_id?: string;
  location_id?: string;
  status?: 'active' | 'needs_review' | 'archived';
  language?: 'ar' | 'en' | 'mixed';
  author_id?: string;
  expert_id?: string;
  verified?: boolean;
  source_type?: EntrySource;
  created_after?: string;
  created_before?: string;
  updated_after?: string;
  q?: string;
  sort?: 'created_at' | 'updated_at' | 'title';
  order?: 'asc' | 'desc';
}

/** An entry as lists show it. */
export function presentEntry(e: EntryRow, extra: { tag_ids: string[]; expert_ids: string[] }) {
  return {
    id: e.id,
    title: e.title,
    content: e.content,
    summary: e.summary,
    language: e.language,
    status: e.status,
    verified: e.verified,
    verified_by: e.verifiedBy,
    verified_at: e.verifiedAt?.toISOString() ?? null,
    review_due_at: e.reviewDueAt?.toISOString() ?? null,
    source: { type: e.sourceType, ref: e.sourceRef },
    author_id: e.authorId,
    expert_ids: extra.expert_ids,
    department_id: e.departmentId,
    category_id: e.categoryId,
    tag_ids: extra.tag_ids,
    location_id: e.locationId,
    metadata: e.metadata,
    flags: e.flags,
    version: e.version,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}
export type PresentedEntry = ReturnType<typeof presentEntry>;

/** The knowledge base of an organisation: entries, versions, relations, tags, departments, categories. */
export class KnowledgeService {
  constructor(
    private readonly db: Db,
    private readonly outbox: Outbox,
  ) {}

  // ---- tenancy helpers: every lookup is by organisation, and a miss is 404 ----

  private async entryRow(orgId: string, id: string, tx: Db = this.db): Promise<EntryRow> {
    const [e] = await tx.select().from(knowledgeEntries).where(and(eq(knowledgeEntries.id, id), eq(knowledgeEntries.orgId, orgId)));
    if (!e) throw new AppError('NOT_FOUND', { resource: 'entry', id });
    return e;
  }

  /** Checks that every referenced id belongs to the organisation; 404 naming the first that does not. */
  private async assertRefs(orgId: string, input: Partial<EntryInput>, tx: Db = this.db): Promise<void> {
    const check = async (resource: string, ids: string[], table: typeof tags | typeof departments | typeof categories | typeof locations | typeof users) => {
      const unique = [...new Set(ids)];
      if (unique.length === 0) return;
      const rows = await tx
        .select({ id: table.id })
        .from(table)
        .where(and(inArray(table.id, unique), eq(table.orgId, orgId)));
      const found = new Set(rows.map((r) => r.id));
      const missing = unique.find((id) => !found.has(id));
      if (missing) throw new AppError('NOT_FOUND', { resource, id: missing });
    };
    await check('tag', input.tag_ids ?? [], tags);
    await check('user', input.expert_ids ?? [], users);
    if (input.department_id) await check('department', [input.department_id], departments);
    if (input.category_id) await check('category', [input.category_id], categories);
    if (input.location_id) await check('location', [input.location_id], locations);
  }

  private async tagsAndExperts(entryIds: string[], tx: Db = this.db) {
    const tagMap = new Map<string, string[]>();
    const expMap = new Map<string, string[]>();
    if (entryIds.length === 0) return { tagMap, expMap };
    const [t, x] = await Promise.all([
      tx.select().from(entryTags).where(inArray(entryTags.entryId, entryIds)),
      tx.select().from(entryExperts).where(inArray(entryExperts.entryId, entryIds)),
    ]);
    for (const r of t) tagMap.set(r.entryId, [...(tagMap.get(r.entryId) ?? []), r.tagId]);
    for (const r of x) expMap.set(r.entryId, [...(expMap.get(r.entryId) ?? []), r.userId]);
    return { tagMap, expMap };
  }

  private async present(e: EntryRow, tx: Db = this.db): Promise<PresentedEntry> {
    const { tagMap, expMap } = await this.tagsAndExperts([e.id], tx);
    return presentEntry(e, { tag_ids: tagMap.get(e.id) ?? [], expert_ids: expMap.get(e.id) ?? [] });
  }

  private async record(tx: Tx, actor: Actor, action: string, entry: PresentedEntry | { id: string }, eventType: string | undefined, details: Record<string, unknown> = {}) {
    await tx.insert(activity).values({ id: newId(), orgId: actor.orgId, actorId: actor.userId ?? null, action, entityType: 'knowledge_entry', entityId: entry.id, details });
    if (eventType) {
      await this.outbox.publish(tx, {
        orgId: actor.orgId,
        aggregateType: 'knowledge_entry',
        aggregateId: entry.id,
        type: eventType,
        payload: { entry: entry as Record<string, unknown>, action, actor_id: actor.userId ?? null, ...details },
      });
    }
  }

  private async snapshot(tx: Tx, actor: Actor, e: PresentedEntry, note?: string | null) {
    await tx.insert(entryVersions).values({ id: newId(), orgId: actor.orgId, entryId: e.id, version: e.version, snapshot: e as Record<string, unknown>, changedBy: actor.userId ?? null, changeNote: note ?? null });
  }

  // ---- entries ----

  /** Creates an entry (version 1), its activity record and a knowledge.created event, in one transaction (or the caller's). */
  async create(actor: Actor, input: EntryInput, outerTx?: Tx): Promise<PresentedEntry> {
    const run = async (tx: Tx) => {
      await this.assertRefs(actor.orgId, input, tx);
      const id = newId();
      const [row] = await tx
        .insert(knowledgeEntries)
        .values({
          id,
          orgId: actor.orgId,
          title: input.title,
          content: input.content,
          summary: input.summary ?? null,
          language: input.language ?? detectLanguage(`${input.title}\n${input.content}`),
          status: input.status ?? 'active',
          sourceType: input.source?.type ?? (actor.authMethod === 'api_key' ? 'api' : 'manual'),
          sourceRef: input.source?.ref ?? null,
          authorId: actor.userId ?? null,
          departmentId: input.department_id ?? null,
          categoryId: input.category_id ?? null,
          locationId: input.location_id ?? null,
          metadata: input.metadata ?? {},
        })
        .returning();
      const tagIds = [...new Set(input.tag_ids ?? [])];
      const expertIds = [...new Set(input.expert_ids ?? [])];
      if (tagIds.length) await tx.insert(entryTags).values(tagIds.map((tagId) => ({ orgId: actor.orgId, entryId: id, tagId })));
      if (expertIds.length) await tx.insert(entryExperts).values(expertIds.map((userId) => ({ orgId: actor.orgId, entryId: id, userId })));
      const presented = presentEntry(row!, { tag_ids: tagIds, expert_ids: expertIds });
      await this.snapshot(tx, actor, presented, null);
      await this.record(tx, actor, 'created', presented, 'knowledge.created');
      return presented;
    };
    const result = outerTx ? await run(outerTx) : await this.db.transaction((t) => run(t as unknown as Tx));
    this.outbox.poke();
    return result;
  }

  /** A page of entries with the filters; archived entries only when asked for by status. */
  async list(actor: Actor, f: ListFilters, page: PageRequest) {
    const E = knowledgeEntries;
    const conds: Array<SQL | undefined> = [eq(E.orgId, actor.orgId), f.status ? eq(E.status, f.status) : ne(E.status, 'archived')];
    if (f.department_id) conds.push(eq(E.departmentId, f.department_id));
    if (f.category_id) conds.push(eq(E.categoryId, f.category_id));
    if (f.location_id) conds.push(eq(E.locationId, f.location_id));
    if (f.language) conds.push(eq(E.language, f.language));
    if (f.author_id) conds.push(eq(E.authorId, f.author_id));
    if (f.verified !== undefined) conds.push(eq(E.verified, f.verified));
    if (f.source_type) conds.push(eq(E.sourceType, f.source_type));
    if (f.created_after) conds.push(gte(E.createdAt, new Date(f.created_after)));
    if (f.created_before) conds.push(lt(E.createdAt, new Date(f.created_before)));
    if (f.updated_after) conds.push(gt(E.updatedAt, new Date(f.updated_after)));
    if (f.tag_ids?.length) {
      conds.push(inArray(E.id, this.db.select({ id: entryTags.entryId }).from(entryTags).where(and(eq(entryTags.orgId, actor.orgId), inArray(entryTags.tagId, f.tag_ids)))));
    }
    if (f.expert_id) {
      conds.push(inArray(E.id, this.db.select({ id: entryExperts.entryId }).from(entryExperts).where(and(eq(entryExperts.orgId, actor.orgId), eq(entryExperts.userId, f.expert_id)))));
    }
    if (f.q) {
      const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conds.push(or(ilike(E.title, like), ilike(E.content, like)));
    }
    const where = and(...conds);
    const dir = f.order === 'asc' ? asc : desc;
    const sortCol = f.sort === 'title' ? E.title : f.sort === 'updated_at' ? E.updatedAt : E.createdAt;
    const [rows, [total]] = await Promise.all([
      this.db.select().from(E).where(where).orderBy(dir(sortCol), dir(E.id)).limit(page.limit).offset(page.offset),
      this.db.select({ n: count() }).from(E).where(where),
    ]);
    const { tagMap, expMap } = await this.tagsAndExperts(rows.map((r) => r.id));
    return pageOf(
      rows.map((r) => presentEntry(r, { tag_ids: tagMap.get(r.id) ?? [], expert_ids: expMap.get(r.id) ?? [] })),
      total?.n ?? 0,
      page,
    );
  }

  /** One entry with its tags, department, category, author, experts, relations and version count. */
  async get(actor: Actor, id: string) {
    const e = await this.entryRow(actor.orgId, id);
    const base = await this.present(e);
    const [tagRows, dept, cat, people, rels, [versions]] = await Promise.all([
      base.tag_ids.length ? this.db.select().from(tags).where(and(inArray(tags.id, base.tag_ids), eq(tags.orgId, actor.orgId))) : Promise.resolve([]),
      e.departmentId ? this.db.select().from(departments).where(and(eq(departments.id, e.departmentId), eq(departments.orgId, actor.orgId))) : Promise.resolve([]),
      e.categoryId ? this.db.select().from(categories).where(and(eq(categories.id, e.categoryId), eq(categories.orgId, actor.orgId))) : Promise.resolve([]),
      this.db
        .select({ id: users.id, full_name: users.fullName, email: users.email })
        .from(users)
        .where(and(eq(users.orgId, actor.orgId), inArray(users.id, [...base.expert_ids, ...(e.authorId ? [e.authorId] : [])].concat(['00000000-0000-0000-0000-000000000000'])))),
      this.db
        .select({ rel: entryRelations, title: knowledgeEntries.title, status: knowledgeEntries.status })
        .from(entryRelations)
        .innerJoin(knowledgeEntries, or(and(eq(entryRelations.fromId, id), eq(knowledgeEntries.id, entryRelations.toId)), and(eq(entryRelations.toId, id), eq(knowledgeEntries.id, entryRelations.fromId))))
        .where(eq(entryRelations.orgId, actor.orgId)),
      this.db.select({ n: count() }).from(entryVersions).where(eq(entryVersions.entryId, id)),
    ]);
    const person = (uid: string | null) => (uid ? (people.find((p) => p.id === uid) ?? { id: uid, full_name: null, email: null }) : null);
    return {
      ...base,
      tags: tagRows.map((t) => ({ id: t.id, name: t.name, name_ar: t.nameAr, name_en: t.nameEn })),
      department: dept[0] ? { id: dept[0].id, name: dept[0].name, name_ar: dept[0].nameAr } : null,
      category: cat[0] ? { id: cat[0].id, name: cat[0].name, name_ar: cat[0].nameAr } : null,
      author: person(e.authorId),
      experts: base.expert_ids.map((x) => person(x)!),
      related: rels.map((r) => ({
        entry_id: r.rel.fromId === id ? r.rel.toId : r.rel.fromId,
        title: r.title,
        status: r.status,
        relation_type: r.rel.relationType,
        direction: r.rel.fromId === id ? ('outgoing' as const) : ('incoming' as const),
        note: r.rel.note,
      })),
      version_count: versions?.n ?? 0,
    };
  }

  /**
   * Updates an entry and records a new version. `expectedVersion` (If-Match or body) must be current.
   * Editing a verified entry's content clears its verification; status 'active' restores an archived entry.
   */
  async update(actor: Actor, id: string, input: Partial<EntryInput> & { change_note?: string }, expectedVersion?: number) {
    const result = await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      // Lock the row: concurrent updates serialise, and the version check is exact.
      const [current] = await tx
        .select()
        .from(knowledgeEntries)
        .where(and(eq(knowledgeEntries.id, id), eq(knowledgeEntries.orgId, actor.orgId)))
        .for('update');
      if (!current) throw new AppError('NOT_FOUND', { resource: 'entry', id });
      if (expectedVersion !== undefined && expectedVersion !== current.version) throw new AppError('VERSION_CONFLICT', { current_version: current.version });
      await this.assertRefs(actor.orgId, input, tx);
      const contentChanged = (input.content !== undefined && input.content !== current.content) || (input.title !== undefined && input.title !== current.title);
      const set: Partial<typeof knowledgeEntries.$inferInsert> = { version: current.version + 1, updatedAt: new Date() };
      if (input.title !== undefined) set.title = input.title;
      if (input.content !== undefined) set.content = input.content;
      if (input.summary !== undefined) set.summary = input.summary;
      if (input.language !== undefined) set.language = input.language;
      else if (contentChanged) set.language = detectLanguage(`${input.title ?? current.title}\n${input.content ?? current.content}`);
      if (input.status !== undefined) set.status = input.status;
      if (input.source !== undefined) {
        set.sourceType = input.source.type;
        set.sourceRef = input.source.ref ?? null;
      }
      if (input.department_id !== undefined) set.departmentId = input.department_id;
      if (input.category_id !== undefined) set.categoryId = input.category_id;
      if (input.location_id !== undefined) set.locationId = input.location_id;
      if (input.metadata !== undefined) set.metadata = input.metadata;
      if (contentChanged && current.verified) {
        set.verified = false;
        set.verifiedBy = null;
        set.verifiedAt = null;
      }
      const [row] = await tx.update(knowledgeEntries).set(set).where(eq(knowledgeEntries.id, id)).returning();
      if (input.tag_ids !== undefined) {
        await tx.delete(entryTags).where(eq(entryTags.entryId, id));
        const ids = [...new Set(input.tag_ids)];
        if (ids.length) await tx.insert(entryTags).values(ids.map((tagId) => ({ orgId: actor.orgId, entryId: id, tagId })));
      }
      if (input.expert_ids !== undefined) {
        await tx.delete(entryExperts).where(eq(entryExperts.entryId, id));
        const ids = [...new Set(input.expert_ids)];
        if (ids.length) await tx.insert(entryExperts).values(ids.map((userId) => ({ orgId: actor.orgId, entryId: id, userId })));
      }
      const presented = await this.present(row!, tx);
      await this.snapshot(tx, actor, presented, input.change_note);
      const restored = current.status === 'archived' && presented.status !== 'archived';
      await this.record(tx, actor, restored ? 'restored' : 'updated', presented, presented.status === 'archived' && current.status !== 'archived' ? 'knowledge.deleted' : 'knowledge.updated', {
        version: presented.version,
        ...(contentChanged && current.verified ? { verification_cleared: true } : {}),
      });
      return presented;
    });
    this.outbox.poke();
    return result;
  }

  /** Archives an entry: hidden from lists and search, kept with its versions. */
  async archive(actor: Actor, id: string): Promise<void> {
    await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const [current] = await tx.select().from(knowledgeEntries).where(and(eq(knowledgeEntries.id, id), eq(knowledgeEntries.orgId, actor.orgId))).for('update');
      if (!current) throw new AppError('NOT_FOUND', { resource: 'entry', id });
      if (current.status === 'archived') return;
      const [row] = await tx.update(knowledgeEntries).set({ status: 'archived', version: current.version + 1, updatedAt: new Date() }).where(eq(knowledgeEntries.id, id)).returning();
      const presented = await this.present(row!, tx);
      await this.snapshot(tx, actor, presented, 'archived');
      await this.record(tx, actor, 'archived', presented, 'knowledge.deleted');
    });
    this.outbox.poke();
  }

  /** Marks an entry verified and schedules its next review. */
  async verify(actor: Actor, id: string, reviewIntervalDays: number) {
    const result = await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const current = await this.entryRow(actor.orgId, id, tx);
      const now = new Date();
      const [row] = await tx
        .update(knowledgeEntries)
        .set({
          verified: true,
          verifiedBy: actor.userId ?? null,
          verifiedAt: now,
          reviewDueAt: new Date(now.getTime() + reviewIntervalDays * 86400_000),
          status: current.status === 'needs_review' ? 'active' : current.status,
          updatedAt: now,
        })
        .where(eq(knowledgeEntries.id, id))
        .returning();
      const presented = await this.present(row!, tx);
      await this.record(tx, actor, 'verified', presented, 'knowledge.updated', { review_interval_days: reviewIntervalDays });
      return presented;
    });
    this.outbox.poke();
    return result;
  }

  /** Flags an entry as needing review, keeping who flagged it and why. */
  async flag(actor: Actor, id: string, reason: string) {
    const result = await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const current = await this.entryRow(actor.orgId, id, tx);
      const flags = [...current.flags, { user_id: actor.userId ?? null, reason, at: new Date().toISOString() }];
      const [row] = await tx
        .update(knowledgeEntries)
        .set({ status: current.status === 'archived' ? 'archived' : 'needs_review', flags, updatedAt: new Date() })
        .where(eq(knowledgeEntries.id, id))
        .returning();
      const presented = await this.present(row!, tx);
      await this.record(tx, actor, 'flagged', presented, 'knowledge.updated', { reason });
      return presented;
    });
    this.outbox.poke();
    return result;
  }

  async versions(actor: Actor, id: string, page: PageRequest) {
    await this.entryRow(actor.orgId, id);
    const where = and(eq(entryVersions.entryId, id), eq(entryVersions.orgId, actor.orgId));
    const [rows, [total]] = await Promise.all([
      this.db.select().from(entryVersions).where(where).orderBy(desc(entryVersions.version)).limit(page.limit).offset(page.offset),
      this.db.select({ n: count() }).from(entryVersions).where(where),
    ]);
    return pageOf(rows.map(presentVersion), total?.n ?? 0, page);
  }

  async version(actor: Actor, id: string, version: number) {
    await this.entryRow(actor.orgId, id);
    const [row] = await this.db.select().from(entryVersions).where(and(eq(entryVersions.entryId, id), eq(entryVersions.orgId, actor.orgId), eq(entryVersions.version, version)));
    if (!row) throw new AppError('NOT_FOUND', { resource: 'version', version });
    return presentVersion(row);
  }

  /** Relates two entries of the organisation. */
  async relate(actor: Actor, id: string, input: { related_id: string; relation_type: RelationType; note?: string }) {
    if (id === input.related_id) throw new AppError('RELATION_TO_SELF');
    const result = await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const from = await this.entryRow(actor.orgId, id, tx);
      await this.entryRow(actor.orgId, input.related_id, tx);
      const inserted = await tx
        .insert(entryRelations)
        .values({ id: newId(), orgId: actor.orgId, fromId: id, toId: input.related_id, relationType: input.relation_type, note: input.note ?? null, createdBy: actor.userId ?? null })
        .onConflictDoNothing()
        .returning();
      if (inserted.length === 0) throw new AppError('RELATION_EXISTS');
      await this.record(tx, actor, 'related', await this.present(from, tx), 'knowledge.updated', { related_id: input.related_id, relation_type: input.relation_type });
      const r = inserted[0]!;
      return { id: r.id, entry_id: id, related_id: r.toId, relation_type: r.relationType, note: r.note, created_at: r.createdAt.toISOString() };
    });
    this.outbox.poke();
    return result;
  }

  async unrelate(actor: Actor, id: string, relatedId: string): Promise<void> {
    await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const from = await this.entryRow(actor.orgId, id, tx);
      const removed = await tx
        .delete(entryRelations)
        .where(
          and(
            eq(entryRelations.orgId, actor.orgId),
            or(and(eq(entryRelations.fromId, id), eq(entryRelations.toId, relatedId)), and(eq(entryRelations.fromId, relatedId), eq(entryRelations.toId, id))),
          ),
        )
        .returning({ id: entryRelations.id });
      if (removed.length === 0) throw new AppError('NOT_FOUND', { resource: 'relation' });
      await this.record(tx, actor, 'unrelated', await this.present(from, tx), 'knowledge.updated', { related_id: relatedId });
    });
    this.outbox.poke();
  }

  // ---- tags ----

  async listTags(actor: Actor) {
    const rows = await this.db
      .select({ tag: tags, usage: sql<number>`(SELECT count(*)::int FROM entry_tags et WHERE et.tag_id = "tags"."id")` })
      .from(tags)
      .where(eq(tags.orgId, actor.orgId))
      .orderBy(asc(tags.name));
    return { items: rows.map((r) => ({ ...presentTag(r.tag), usage_count: Number(r.usage) })) };
  }

  async createTag(actor: Actor, input: { name: string; name_ar?: string; name_en?: string }) {
    const [exists] = await this.db.select({ id: tags.id }).from(tags).where(and(eq(tags.orgId, actor.orgId), sql`lower(${tags.name}) = lower(${input.name})`));
    if (exists) throw new AppError('TAG_EXISTS');
    try {
      const [row] = await this.db.insert(tags).values({ id: newId(), orgId: actor.orgId, name: input.name.trim(), nameAr: input.name_ar ?? null, nameEn: input.name_en ?? null }).returning();
      return { ...presentTag(row!), usage_count: 0 };
    } catch (err) {
      if ((err as { code?: string; cause?: { code?: string } }).code === '23505' || (err as { cause?: { code?: string } }).cause?.code === '23505') throw new AppError('TAG_EXISTS');
      throw err;
    }
  }

  async deleteTag(actor: Actor, tagId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const removed = await tx.delete(tags).where(and(eq(tags.id, tagId), eq(tags.orgId, actor.orgId))).returning({ id: tags.id });
      if (removed.length === 0) throw new AppError('NOT_FOUND', { resource: 'tag' });
      await tx.delete(entryTags).where(and(eq(entryTags.tagId, tagId), eq(entryTags.orgId, actor.orgId)));
    });
  }

  // ---- departments ----

  async listDepartments(actor: Actor) {
    const rows = await this.db
      .select({ d: departments, n: sql<number>`(SELECT count(*)::int FROM knowledge_entries e WHERE e.department_id = "departments"."id" AND e.status <> 'archived')` })
      .from(departments)
      .where(eq(departments.orgId, actor.orgId))
      .orderBy(asc(departments.name));
    return { items: rows.map((r) => ({ ...presentDepartment(r.d), entry_count: Number(r.n) })) };
  }

  async createDepartment(actor: Actor, input: { name: string; name_ar?: string; description?: string; lead_user_id?: string }) {
    if (input.lead_user_id) await this.assertRefs(actor.orgId, { expert_ids: [input.lead_user_id] });
    const [row] = await this.db
      .insert(departments)
      .values({ id: newId(), orgId: actor.orgId, name: input.name, nameAr: input.name_ar ?? null, description: input.description ?? null, leadUserId: input.lead_user_id ?? null })
      .returning();
    return { ...presentDepartment(row!), entry_count: 0 };
  }

  async updateDepartment(actor: Actor, id: string, input: { name?: string; name_ar?: string | null; description?: string | null; lead_user_id?: string | null }) {
    if (input.lead_user_id) await this.assertRefs(actor.orgId, { expert_ids: [input.lead_user_id] });
    const [row] = await this.db
      .update(departments)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.name_ar !== undefined ? { nameAr: input.name_ar } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.lead_user_id !== undefined ? { leadUserId: input.lead_user_id } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(departments.id, id), eq(departments.orgId, actor.orgId)))
      .returning();
    if (!row) throw new AppError('NOT_FOUND', { resource: 'department' });
    return presentDepartment(row);
  }

  // ---- categories ----

  private async categoryRows(orgId: string) {
    return this.db.select().from(categories).where(eq(categories.orgId, orgId)).orderBy(asc(categories.name));
  }

  async listCategories(actor: Actor, format: 'flat' | 'tree', includeInactive: boolean) {
    const rows = (await this.categoryRows(actor.orgId)).filter((c) => includeInactive || c.active);
    const byParent = new Map<string | null, typeof rows>();
    for (const c of rows) byParent.set(c.parentId, [...(byParent.get(c.parentId) ?? []), c]);
    const ids = new Set(rows.map((r) => r.id));
    const roots = rows.filter((c) => !c.parentId || !ids.has(c.parentId));
    if (format === 'tree') {
      type Node = ReturnType<typeof presentCategory> & { children: Node[] };
      const build = (c: (typeof rows)[number], depth: number): Node => ({ ...presentCategory(c, depth), children: (byParent.get(c.id) ?? []).map((k) => build(k, depth + 1)) });
      return { items: roots.map((r) => build(r, 0)) };
    }
    const flat: Array<ReturnType<typeof presentCategory>> = [];
    const walk = (c: (typeof rows)[number], depth: number) => {
      flat.push(presentCategory(c, depth));
      for (const k of byParent.get(c.id) ?? []) walk(k, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    return { items: flat };
  }

  async createCategory(actor: Actor, input: { name: string; name_ar?: string; parent_id?: string | null }) {
    if (input.parent_id) await this.assertRefs(actor.orgId, { category_id: input.parent_id });
    const [row] = await this.db.insert(categories).values({ id: newId(), orgId: actor.orgId, name: input.name, nameAr: input.name_ar ?? null, parentId: input.parent_id ?? null }).returning();
    return presentCategory(row!, await this.depthOf(actor.orgId, row!.id));
  }

  private async ancestors(orgId: string, id: string): Promise<Array<typeof categories.$inferSelect>> {
    const rows = await this.categoryRows(orgId);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const path: Array<typeof categories.$inferSelect> = [];
    let cur = byId.get(id);
    if (!cur) throw new AppError('NOT_FOUND', { resource: 'category' });
    const seen = new Set<string>();
    while (cur && !seen.has(cur.id)) {
      seen.add(cur.id);
      path.unshift(cur);
      cur = cur.parentId ? byId.get(cur.parentId) : undefined;
    }
    return path;
  }

  private async depthOf(orgId: string, id: string): Promise<number> {
    return (await this.ancestors(orgId, id)).length - 1;
  }

  async updateCategory(actor: Actor, id: string, input: { name?: string; name_ar?: string | null; parent_id?: string | null }) {
    await this.ancestors(actor.orgId, id);
    if (input.parent_id) {
      await this.assertRefs(actor.orgId, { category_id: input.parent_id });
      const chain = await this.ancestors(actor.orgId, input.parent_id);
      if (chain.some((c) => c.id === id)) throw new AppError('CATEGORY_CYCLE');
    }
    const [row] = await this.db
      .update(categories)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.name_ar !== undefined ? { nameAr: input.name_ar } : {}),
        ...(input.parent_id !== undefined ? { parentId: input.parent_id } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(categories.id, id), eq(categories.orgId, actor.orgId)))
      .returning();
    return presentCategory(row!, await this.depthOf(actor.orgId, id));
  }

  async deactivateCategory(actor: Actor, id: string): Promise<void> {
    const rows = await this.db.update(categories).set({ active: false, updatedAt: new Date() }).where(and(eq(categories.id, id), eq(categories.orgId, actor.orgId))).returning({ id: categories.id });
    if (rows.length === 0) throw new AppError('NOT_FOUND', { resource: 'category' });
  }

  async categoryPath(actor: Actor, id: string) {
    const path = await this.ancestors(actor.orgId, id);
    return { items: path.map((c, depth) => presentCategory(c, depth)) };
  }

  /** Whether an entry of the organisation exists (and is not archived). */
  async exists(orgId: string, id: string): Promise<boolean> {
    const [row] = await this.db.select({ id: knowledgeEntries.id }).from(knowledgeEntries).where(and(eq(knowledgeEntries.id, id), eq(knowledgeEntries.orgId, orgId)));
    return !!row;
  }
}

function presentVersion(v: typeof entryVersions.$inferSelect) {
  return { version: v.version, snapshot: v.snapshot, changed_by: v.changedBy, change_note: v.changeNote, created_at: v.createdAt.toISOString() };
}
function presentTag(t: typeof tags.$inferSelect) {
  return { id: t.id, name: t.name, name_ar: t.nameAr, name_en: t.nameEn, created_at: t.createdAt.toISOString() };
}
function presentDepartment(d: typeof departments.$inferSelect) {
  return { id: d.id, name: d.name, name_ar: d.nameAr, description: d.description, lead_user_id: d.leadUserId, created_at: d.createdAt.toISOString(), updated_at: d.updatedAt.toISOString() };
}
function presentCategory(c: typeof categories.$inferSelect, depth: number) {
  return { id: c.id, name: c.name, name_ar: c.nameAr, parent_id: c.parentId, active: c.active, depth, created_at: c.createdAt.toISOString() };
}
