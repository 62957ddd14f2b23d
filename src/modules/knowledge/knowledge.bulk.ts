import { Readable } from 'node:stream';
import { and, asc, eq, gt, inArray, isNull, ne } from 'drizzle-orm';
import Papa from 'papaparse';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { departments, entryExperts, entryTags, entryVersions, knowledgeEntries } from '../../db/schema/index.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { terms } from '../../platform/text/tokens.ts';
import { presentEntry, type EntryInput, type KnowledgeService, type ListFilters } from './knowledge.service.ts';

defineErrors({
  IMPORT_TOO_LARGE: { status: 413, en: 'An import holds at most {limit} rows.', ar: 'يتسع الاستيراد الواحد لـ {limit} صفًّا على الأكثر.' },
  IMPORT_FAILED: { status: 422, en: 'The import was rolled back: row {index} is invalid.', ar: 'أُلغي الاستيراد: الصف {index} غير صالح.' },
});

export const MAX_IMPORT_ROWS = 5000;
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

/** The shape one imported row must have (the same fields as a create). */
const ImportRow = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 300 }),
  content: Type.String({ minLength: 1, maxLength: 200_000 }),
  summary: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
  language: Type.Optional(Type.Union([Type.Literal('ar'), Type.Literal('en'), Type.Literal('mixed')])),
  tag_ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100 })),
  expert_ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100 })),
  department_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  category_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  location_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  source_ref: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export interface ImportResult {
  index: number;
  status: 'created' | 'error';
  id?: string;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

/** Turns CSV text (header row, one entry per row) into row objects; list columns split on ; or |. */
export function rowsFromCsv(text: string): Array<Record<string, unknown>> {
  const parsed = Papa.parse<Record<string, string>>(text.replace(/^\uFEFF/, ''), { header: true, skipEmptyLines: 'greedy', transformHeader: (h) => h.trim().toLowerCase() });
  return parsed.data.map((r) => {
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined || v === '') continue;
      if (k === 'tag_ids' || k === 'expert_ids') row[k] = v.split(/[;|]/).map((s) => s.trim()).filter(Boolean);
      else row[k] = v;
    }
    return row;
  });
}

/** Bulk import, streamed export and department classification over the knowledge service. */
export class KnowledgeBulk {
  constructor(
    private readonly db: Db,
    private readonly knowledge: KnowledgeService,
  ) {}

  /** Imports rows; per-row results, or all-or-nothing when `atomic`. */
  async import(actor: Actor, rows: unknown[], atomic: boolean): Promise<{ created: number; failed: number; results: ImportResult[] }> {
    if (rows.length > MAX_IMPORT_ROWS) throw new AppError('IMPORT_TOO_LARGE', { limit: MAX_IMPORT_ROWS });
    const results: ImportResult[] = [];
    const toInput = (raw: unknown): EntryInput => {
      if (!Value.Check(ImportRow, raw)) {
        const first = [...Value.Errors(ImportRow, raw)][0];
        throw new AppError('VALIDATION_ERROR', { fields: [{ field: (first?.instancePath ?? '').replace(/^\//, '') || 'row', reason: first?.message ?? 'is invalid' }] });
      }
      const r = raw as Record<string, unknown> & { source_ref?: string | null };
      const { source_ref, ...rest } = r;
      return { ...(rest as unknown as EntryInput), source: { type: 'import', ref: source_ref ?? null } };
    };
    const errorOf = (err: unknown) => {
      if (err instanceof AppError) return { code: err.code, message: err.code, ...(Object.keys(err.details).length ? { details: err.details } : {}) };
      throw err;
    };
    if (atomic) {
      await this.db.transaction(async (t) => {
        const tx = t as unknown as Tx;
        for (let i = 0; i < rows.length; i++) {
          try {
            const e = await this.knowledge.create(actor, toInput(rows[i]), tx);
            results.push({ index: i, status: 'created', id: e.id });
          } catch (err) {
            const e = errorOf(err);
            throw new AppError('IMPORT_FAILED', { index: i, error: e });
          }
        }
      });
    } else {
      for (let i = 0; i < rows.length; i++) {
        try {
          const e = await this.knowledge.create(actor, toInput(rows[i]));
          results.push({ index: i, status: 'created', id: e.id });
        } catch (err) {
          results.push({ index: i, status: 'error', error: errorOf(err) });
        }
      }
    }
    const created = results.filter((r) => r.status === 'created').length;
    return { created, failed: results.length - created, results };
  }

  /** Streams the filtered entries as one JSON document, reading the database in keyset batches. */
  exportStream(actor: Actor, f: ListFilters, includeVersions: boolean): Readable {
    const db = this.db;
    const batch = 500;
    async function* generate() {
      yield `{"exported_at":${JSON.stringify(new Date().toISOString())},"items":[`;
      let after: string | undefined;
      let first = true;
      for (;;) {
        const conds = [
          eq(knowledgeEntries.orgId, actor.orgId),
          f.status ? eq(knowledgeEntries.status, f.status) : ne(knowledgeEntries.status, 'archived'),
          f.department_id ? eq(knowledgeEntries.departmentId, f.department_id) : undefined,
          f.category_id ? eq(knowledgeEntries.categoryId, f.category_id) : undefined,
          f.language ? eq(knowledgeEntries.language, f.language) : undefined,
          f.verified !== undefined ? eq(knowledgeEntries.verified, f.verified) : undefined,
          after ? gt(knowledgeEntries.id, after) : undefined,
        ];
        const rows = await db.select().from(knowledgeEntries).where(and(...conds)).orderBy(asc(knowledgeEntries.id)).limit(batch);
        if (rows.length === 0) break;
        const ids = rows.map((r) => r.id);
        const [tagRows, expRows, versions] = await Promise.all([
          db.select().from(entryTags).where(inArray(entryTags.entryId, ids)),
          db.select().from(entryExperts).where(inArray(entryExperts.entryId, ids)),
          includeVersions ? db.select().from(entryVersions).where(inArray(entryVersions.entryId, ids)).orderBy(asc(entryVersions.version)) : Promise.resolve([]),
        ]);
        let tagFilter: Set<string> | undefined;
        if (f.tag_ids?.length) tagFilter = new Set(tagRows.filter((r) => f.tag_ids!.includes(r.tagId)).map((r) => r.entryId));
        let chunk = '';
        for (const r of rows) {
          if (tagFilter && !tagFilter.has(r.id)) continue;
          const item: Record<string, unknown> = presentEntry(r, {
            tag_ids: tagRows.filter((x) => x.entryId === r.id).map((x) => x.tagId),
            expert_ids: expRows.filter((x) => x.entryId === r.id).map((x) => x.userId),
          });
          if (includeVersions) {
            item.versions = versions
              .filter((v) => v.entryId === r.id)
              .map((v) => ({ version: v.version, snapshot: v.snapshot, changed_by: v.changedBy, change_note: v.changeNote, created_at: v.createdAt.toISOString() }));
          }
          chunk += `${first ? '' : ','}${JSON.stringify(item)}`;
          first = false;
        }
        if (chunk) yield chunk;
        after = rows.at(-1)!.id;
        if (rows.length < batch) break;
      }
      yield ']}';
    }
    return Readable.from(generate());
  }

  /**
   * Assigns entries to the department whose name, description and existing entries their text is
   * closest to (TF-IDF cosine over bilingual normalised terms). Below the threshold an entry stays
   * unassigned and is reported with department_id null.
   */
  async classify(actor: Actor, input: { entry_ids?: string[]; only_unassigned?: boolean; dry_run?: boolean }, threshold = 0.12) {
    if (input.entry_ids?.length) {
      const all = await this.db.select({ id: knowledgeEntries.id }).from(knowledgeEntries).where(and(eq(knowledgeEntries.orgId, actor.orgId), inArray(knowledgeEntries.id, input.entry_ids)));
      const found = new Set(all.map((r) => r.id));
      const missing = input.entry_ids.find((id) => !found.has(id));
      if (missing) throw new AppError('NOT_FOUND', { resource: 'entry', id: missing });
    }
    const depts = await this.db.select().from(departments).where(eq(departments.orgId, actor.orgId));
    if (depts.length === 0) return { items: [], assigned: 0 };
    const onlyUnassigned = input.only_unassigned ?? true;
    const targets = await this.db
      .select()
      .from(knowledgeEntries)
      .where(
        and(
          eq(knowledgeEntries.orgId, actor.orgId),
          ne(knowledgeEntries.status, 'archived'),
          input.entry_ids?.length ? inArray(knowledgeEntries.id, input.entry_ids) : undefined,
          onlyUnassigned ? isNull(knowledgeEntries.departmentId) : undefined,
        ),
      )
      .limit(5000);
    // Each department's profile: its names and description, plus a sample of the entries it already has.
    const profiles = new Map<string, string[]>();
    for (const d of depts) profiles.set(d.id, terms([d.name, d.nameAr ?? '', d.description ?? ''].join(' ')));
    const assigned = await this.db
      .select({ departmentId: knowledgeEntries.departmentId, title: knowledgeEntries.title, content: knowledgeEntries.content })
      .from(knowledgeEntries)
      .where(and(eq(knowledgeEntries.orgId, actor.orgId), ne(knowledgeEntries.status, 'archived')))
      .limit(5000);
    for (const a of assigned) {
      if (!a.departmentId || !profiles.has(a.departmentId)) continue;
      profiles.get(a.departmentId)!.push(...terms(`${a.title} ${a.content.slice(0, 2000)}`));
    }
    const docs = [...profiles.values()];
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
    const idf = (t: string) => Math.log(1 + (docs.length + 1) / ((df.get(t) ?? 0) + 0.5));
    const vector = (ts: string[]) => {
      const v = new Map<string, number>();
      for (const t of ts) v.set(t, (v.get(t) ?? 0) + 1);
      let norm = 0;
      for (const [t, n] of v) {
        const w = (1 + Math.log(n)) * idf(t);
        v.set(t, w);
        norm += w * w;
      }
      norm = Math.sqrt(norm) || 1;
      for (const [t, w] of v) v.set(t, w / norm);
      return v;
    };
    const deptVectors = depts.map((d) => ({ id: d.id, v: vector(profiles.get(d.id)!) }));
    const items: Array<{ entry_id: string; department_id: string | null; confidence: number }> = [];
    for (const e of targets) {
      const ev = vector(terms(`${e.title} ${e.title} ${e.content.slice(0, 20_000)}`));
      let best = { id: '', score: 0 };
      for (const d of deptVectors) {
        let dot = 0;
        for (const [t, w] of ev) dot += w * (d.v.get(t) ?? 0);
        if (dot > best.score) best = { id: d.id, score: dot };
      }
      const confidence = Math.round(best.score * 1000) / 1000;
      items.push({ entry_id: e.id, department_id: confidence >= threshold ? best.id : null, confidence });
    }
    let count = 0;
    if (!input.dry_run) {
      for (const it of items) {
        if (!it.department_id) continue;
        await this.knowledge.update(actor, it.entry_id, { department_id: it.department_id, change_note: 'classified into a department' });
        count += 1;
      }
    }
    return { items, assigned: input.dry_run ? 0 : count };
  }
}
