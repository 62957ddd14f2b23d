import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf } from '../../platform/auth/guard.ts';
import { AppError } from '../../platform/http/errors.ts';
import { Paginated, PaginationQuery, UuidList, pageRequest } from '../../platform/http/pagination.ts';
import { KnowledgeBulk, MAX_IMPORT_BYTES, rowsFromCsv } from './knowledge.bulk.ts';
import { KnowledgeService, type EntryInput, type ListFilters } from './knowledge.service.ts';

const TAGS = ['knowledge'];
const Uuid = Type.String({ format: 'uuid' });
const NullableUuid = Type.Union([Uuid, Type.Null()]);
const Language = Type.Union([Type.Literal('ar'), Type.Literal('en'), Type.Literal('mixed')]);
const Status = Type.Union([Type.Literal('active'), Type.Literal('needs_review'), Type.Literal('archived')]);
const SourceType = Type.Union([
  Type.Literal('manual'),
  Type.Literal('document'),
  Type.Literal('voice'),
  Type.Literal('interview'),
  Type.Literal('shift_log'),
  Type.Literal('integration'),
  Type.Literal('import'),
  Type.Literal('api'),
]);
const RelationType = Type.Union([
  Type.Literal('related'),
  Type.Literal('depends_on'),
  Type.Literal('supersedes'),
  Type.Literal('contradicts'),
  Type.Literal('duplicate_of'),
  Type.Literal('part_of'),
]);
const DateTime = Type.String({ format: 'date-time' });
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const Entry = Type.Object({
  id: Uuid,
  title: Type.String(),
  content: Type.String(),
  summary: NullableString,
  language: Language,
  status: Status,
  verified: Type.Boolean(),
  verified_by: NullableString,
  verified_at: NullableString,
  review_due_at: NullableString,
  source: Type.Object({ type: SourceType, ref: NullableString }),
  author_id: NullableString,
  expert_ids: Type.Array(Type.String()),
  department_id: NullableString,
  category_id: NullableString,
  tag_ids: Type.Array(Type.String()),
  location_id: NullableString,
  metadata: Type.Record(Type.String(), Type.Unknown()),
  flags: Type.Array(Type.Object({ user_id: NullableString, reason: Type.String(), at: Type.String() })),
  version: Type.Integer(),
  created_at: DateTime,
  updated_at: DateTime,
});

const Named = Type.Object({ id: Type.String(), name: Type.String(), name_ar: NullableString });
const Person = Type.Object({ id: Type.String(), full_name: NullableString, email: NullableString });
const EntryDetail = Type.Intersect([
  Entry,
  Type.Object({
    tags: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), name_ar: NullableString, name_en: NullableString })),
    department: Type.Union([Named, Type.Null()]),
    category: Type.Union([Named, Type.Null()]),
    author: Type.Union([Person, Type.Null()]),
    experts: Type.Array(Person),
    related: Type.Array(
      Type.Object({
        entry_id: Type.String(),
        title: Type.String(),
        status: Type.String(),
        relation_type: RelationType,
        direction: Type.Union([Type.Literal('outgoing'), Type.Literal('incoming')]),
        note: NullableString,
      }),
    ),
    version_count: Type.Integer(),
  }),
]);

const EntryFields = {
  title: Type.String({ minLength: 1, maxLength: 300 }),
  content: Type.String({ minLength: 1, maxLength: 200_000, description: 'Markdown, Arabic, English or both; stored exactly as given' }),
  summary: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
  language: Type.Optional(Language),
  source: Type.Optional(Type.Object({ type: SourceType, ref: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])) })),
  expert_ids: Type.Optional(Type.Array(Uuid, { maxItems: 100 })),
  department_id: Type.Optional(NullableUuid),
  category_id: Type.Optional(NullableUuid),
  tag_ids: Type.Optional(Type.Array(Uuid, { maxItems: 100 })),
  location_id: Type.Optional(NullableUuid),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
};

const CreateBody = Type.Object({ ...EntryFields, status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('needs_review')])) });
const UpdateBody = Type.Object({
  title: Type.Optional(EntryFields.title),
  content: Type.Optional(EntryFields.content),
  summary: EntryFields.summary,
  language: EntryFields.language,
  status: Type.Optional(Status),
  source: EntryFields.source,
  expert_ids: EntryFields.expert_ids,
  department_id: EntryFields.department_id,
  category_id: EntryFields.category_id,
  tag_ids: EntryFields.tag_ids,
  location_id: EntryFields.location_id,
  metadata: EntryFields.metadata,
  version: Type.Optional(Type.Integer({ minimum: 1, description: 'The version being edited; 409 VERSION_CONFLICT if not current (or send If-Match)' })),
  change_note: Type.Optional(Type.String({ maxLength: 2000 })),
});

export const ListQuery = Type.Object({
  ...PaginationQuery,
  tag_ids: UuidList('Entries with any of these tags'),
  department_id: Type.Optional(Uuid),
  category_id: Type.Optional(Uuid),
  location_id: Type.Optional(Uuid),
  status: Type.Optional(Status),
  language: Type.Optional(Language),
  author_id: Type.Optional(Uuid),
  expert_id: Type.Optional(Uuid),
  verified: Type.Optional(Type.Boolean()),
  source_type: Type.Optional(SourceType),
  created_after: Type.Optional(DateTime),
  created_before: Type.Optional(DateTime),
  updated_after: Type.Optional(DateTime),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Substring of the title or content' })),
  sort: Type.Optional(Type.Union([Type.Literal('created_at'), Type.Literal('updated_at'), Type.Literal('title')], { default: 'created_at' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' })),
});

const IdParams = Type.Object({ id: Uuid });
const Version = Type.Object({ version: Type.Integer(), snapshot: Type.Record(Type.String(), Type.Unknown()), changed_by: NullableString, change_note: NullableString, created_at: DateTime });
const Tag = Type.Object({ id: Uuid, name: Type.String(), name_ar: NullableString, name_en: NullableString, created_at: DateTime, usage_count: Type.Integer() });
const Department = Type.Object({
  id: Uuid,
  name: Type.String(),
  name_ar: NullableString,
  description: NullableString,
  lead_user_id: NullableString,
  created_at: DateTime,
  updated_at: DateTime,
  entry_count: Type.Optional(Type.Integer()),
});
const Category = Type.Object({ id: Uuid, name: Type.String(), name_ar: NullableString, parent_id: NullableString, active: Type.Boolean(), depth: Type.Integer(), created_at: DateTime });
const NoContent = { 204: Type.Null() };

/** The knowledge base under /api/v1/knowledge. */
export function register(app: App, deps: Deps): { service: KnowledgeService } {
  const service = new KnowledgeService(deps.database.db, deps.outbox);
  const growth = (feature: string) => ({ minPlan: 'growth' as const, feature });

  app.get(
    '/api/v1/knowledge/',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'List entries', description: 'Archived entries are excluded unless status=archived.', querystring: ListQuery, response: { 200: Paginated(Entry) } } },
    async (request) => service.list(actorOf(request), request.query as ListFilters, pageRequest(request.query)),
  );

  app.post(
    '/api/v1/knowledge/',
    { config: { auth: {}, idempotent: true }, schema: { tags: TAGS, summary: 'Create an entry', body: CreateBody, response: { 201: Entry } } },
    async (request, reply) => reply.code(201).send(await service.create(actorOf(request), request.body as EntryInput)),
  );

  // Static paths are registered before /:id so they are never read as ids.
  app.get('/api/v1/knowledge/tags', { config: { auth: {} }, schema: { tags: TAGS, summary: 'Tags with usage counts', response: { 200: Type.Object({ items: Type.Array(Tag) }) } } }, async (request) =>
    service.listTags(actorOf(request)),
  );
  app.post(
    '/api/v1/knowledge/tags',
    {
      config: { auth: { minRole: 'manager' }, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Create a tag (unique per organisation, case-insensitively)',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), name_ar: Type.Optional(Type.String({ maxLength: 100 })), name_en: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 201: Tag },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createTag(actorOf(request), request.body)),
  );
  app.delete(
    '/api/v1/knowledge/tags/:tag_id',
    { config: { auth: { minRole: 'manager' } }, schema: { tags: TAGS, summary: 'Delete a tag (removed from entries)', params: Type.Object({ tag_id: Uuid }), response: NoContent } },
    async (request, reply) => {
      await service.deleteTag(actorOf(request), request.params.tag_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/knowledge/departments',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'Departments', response: { 200: Type.Object({ items: Type.Array(Department) }) } } },
    async (request) => service.listDepartments(actorOf(request)),
  );
  const DeptBody = {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    name_ar: Type.Optional(Type.String({ maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    lead_user_id: Type.Optional(Uuid),
  };
  app.post(
    '/api/v1/knowledge/departments',
    { config: { auth: { minRole: 'manager' }, idempotent: true }, schema: { tags: TAGS, summary: 'Create a department', body: Type.Object(DeptBody), response: { 201: Department } } },
    async (request, reply) => reply.code(201).send(await service.createDepartment(actorOf(request), request.body)),
  );
  app.put(
    '/api/v1/knowledge/departments/:id',
    {
      config: { auth: { minRole: 'manager' } },
      schema: {
        tags: TAGS,
        summary: 'Update a department',
        params: IdParams,
        body: Type.Object({
          name: Type.Optional(DeptBody.name),
          name_ar: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
          description: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
          lead_user_id: Type.Optional(NullableUuid),
        }),
        response: { 200: Department },
      },
    },
    async (request) => service.updateDepartment(actorOf(request), request.params.id, request.body),
  );

  app.get(
    '/api/v1/knowledge/categories',
    {
      config: { auth: growth('categories') },
      schema: {
        tags: TAGS,
        summary: 'Categories, flat with depth or as a tree',
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('flat'), Type.Literal('tree')])), include_inactive: Type.Optional(Type.Boolean()) }),
        response: { 200: Type.Object({ items: Type.Array(Type.Unknown()) }) },
      },
    },
    async (request) => service.listCategories(actorOf(request), request.query.format ?? 'flat', request.query.include_inactive ?? false),
  );
  app.post(
    '/api/v1/knowledge/categories',
    {
      config: { auth: { minRole: 'manager', ...growth('categories') }, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Create a category',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), name_ar: Type.Optional(Type.String({ maxLength: 200 })), parent_id: Type.Optional(NullableUuid) }),
        response: { 201: Category },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createCategory(actorOf(request), request.body)),
  );
  app.put(
    '/api/v1/knowledge/categories/:id',
    {
      config: { auth: { minRole: 'manager', ...growth('categories') } },
      schema: {
        tags: TAGS,
        summary: 'Update or move a category',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), name_ar: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])), parent_id: Type.Optional(NullableUuid) }),
        response: { 200: Category },
      },
    },
    async (request) => service.updateCategory(actorOf(request), request.params.id, request.body),
  );
  app.delete(
    '/api/v1/knowledge/categories/:id',
    { config: { auth: { minRole: 'manager', ...growth('categories') } }, schema: { tags: TAGS, summary: 'Deactivate a category', params: IdParams, response: NoContent } },
    async (request, reply) => {
      await service.deactivateCategory(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/api/v1/knowledge/categories/:id/path',
    { config: { auth: growth('categories') }, schema: { tags: TAGS, summary: 'Ancestors of a category from the root', params: IdParams, response: { 200: Type.Object({ items: Type.Array(Category) }) } } },
    async (request) => service.categoryPath(actorOf(request), request.params.id),
  );

  app.get('/api/v1/knowledge/:id', { config: { auth: {} }, schema: { tags: TAGS, summary: 'Get an entry with its relations', params: IdParams, response: { 200: EntryDetail } } }, async (request) =>
    service.get(actorOf(request), request.params.id),
  );

  app.put(
    '/api/v1/knowledge/:id',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Update an entry (records a version)',
        description: 'Optimistic concurrency: If-Match: <version> or body.version must be current, else 409 VERSION_CONFLICT. Editing a verified entry clears verified. status=active restores an archived entry.',
        params: IdParams,
        body: UpdateBody,
        response: { 200: Entry },
      },
    },
    async (request) => {
      const ifMatch = request.headers['if-match'];
      let expected = request.body.version;
      if (typeof ifMatch === 'string' && ifMatch.trim() !== '*') {
        const n = Number(ifMatch.replace(/^W\//, '').replace(/"/g, '').trim());
        if (!Number.isInteger(n) || n < 1) throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'If-Match', reason: 'must be the entry version number' }] });
        expected = n;
      }
      const { version: _v, ...input } = request.body;
      return service.update(actorOf(request), request.params.id, input as Partial<EntryInput> & { change_note?: string }, expected);
    },
  );

  app.delete('/api/v1/knowledge/:id', { config: { auth: {} }, schema: { tags: TAGS, summary: 'Archive an entry', params: IdParams, response: NoContent } }, async (request, reply) => {
    await service.archive(actorOf(request), request.params.id);
    return reply.code(204).send(null);
  });

  app.post(
    '/api/v1/knowledge/:id/verify',
    {
      config: { auth: { minRole: 'manager' } },
      schema: { tags: TAGS, summary: 'Mark an entry verified', params: IdParams, body: Type.Optional(Type.Object({ review_interval_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 730, default: 90 })) })), response: { 200: Entry } },
    },
    async (request) => service.verify(actorOf(request), request.params.id, request.body?.review_interval_days ?? 90),
  );

  app.post(
    '/api/v1/knowledge/:id/needs-review',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'Flag an entry for review', params: IdParams, body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }), response: { 200: Entry } } },
    async (request) => service.flag(actorOf(request), request.params.id, request.body.reason),
  );

  app.get(
    '/api/v1/knowledge/:id/versions',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'Version history, newest first', params: IdParams, querystring: Type.Object({ ...PaginationQuery }), response: { 200: Paginated(Version) } } },
    async (request) => service.versions(actorOf(request), request.params.id, pageRequest(request.query)),
  );
  app.get(
    '/api/v1/knowledge/:id/versions/:version',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'One version', params: Type.Object({ id: Uuid, version: Type.Integer({ minimum: 1 }) }), response: { 200: Version } } },
    async (request) => service.version(actorOf(request), request.params.id, request.params.version),
  );

  app.post(
    '/api/v1/knowledge/:id/relate',
    {
      config: { auth: {}, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Relate two entries',
        params: IdParams,
        body: Type.Object({ related_id: Uuid, relation_type: RelationType, note: Type.Optional(Type.String({ maxLength: 2000 })) }),
        response: { 201: Type.Object({ id: Uuid, entry_id: Uuid, related_id: Uuid, relation_type: RelationType, note: NullableString, created_at: DateTime }) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.relate(actorOf(request), request.params.id, request.body)),
  );
  app.delete(
    '/api/v1/knowledge/:id/relate/:related_id',
    { config: { auth: {} }, schema: { tags: TAGS, summary: 'Unlink two entries', params: Type.Object({ id: Uuid, related_id: Uuid }), response: NoContent } },
    async (request, reply) => {
      await service.unrelate(actorOf(request), request.params.id, request.params.related_id);
      return reply.code(204).send(null);
    },
  );

  const bulk = new KnowledgeBulk(deps.database.db, service);
  app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: MAX_IMPORT_BYTES }, (_request, body, done) => done(null, body));

  app.post(
    '/api/v1/knowledge/bulk-import',
    {
      bodyLimit: MAX_IMPORT_BYTES,
      config: { auth: growth('bulk_operations'), idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Import entries from a JSON array or CSV',
        description:
          'Send `application/json` (an array of entries, or {"entries": [...]}) or `text/csv` (a header row with title, content, summary, language, tag_ids, ' +
          'expert_ids, department_id, category_id, location_id, source_ref; lists separated by ; or |). Up to 5,000 rows and 10 MB, else 413. ' +
          'Each row gets a result; with atomic=true the import is all-or-nothing (422 naming the first bad row).',
        querystring: Type.Object({ atomic: Type.Optional(Type.Boolean({ default: false })) }),
        body: Type.Unknown({ description: 'A JSON array of entries, {"entries": [...]}, or CSV text' }),
        response: {
          200: Type.Object({
            created: Type.Integer(),
            failed: Type.Integer(),
            results: Type.Array(
              Type.Object({
                index: Type.Integer(),
                status: Type.Union([Type.Literal('created'), Type.Literal('error')]),
                id: Type.Optional(Type.String()),
                error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const body = request.body as unknown;
      const rows =
        typeof body === 'string'
          ? rowsFromCsv(body)
          : Array.isArray(body)
            ? body
            : body && typeof body === 'object' && Array.isArray((body as { entries?: unknown }).entries)
              ? (body as { entries: unknown[] }).entries
              : undefined;
      if (!rows) throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'body', reason: 'must be a JSON array of entries, {"entries": [...]}, or CSV text' }] });
      return bulk.import(actorOf(request), rows, request.query.atomic ?? false);
    },
  );

  app.get(
    '/api/v1/knowledge/export',
    {
      config: { auth: growth('bulk_operations') },
      schema: {
        tags: TAGS,
        summary: 'Export entries as JSON (streamed)',
        description: 'Streams `{"exported_at", "items": [...]}` with the list filters; include_versions=true adds each entry’s versions.',
        querystring: Type.Object({
          tag_ids: ListQuery.properties.tag_ids,
          department_id: ListQuery.properties.department_id,
          category_id: ListQuery.properties.category_id,
          status: ListQuery.properties.status,
          language: ListQuery.properties.language,
          verified: ListQuery.properties.verified,
          include_versions: Type.Optional(Type.Boolean({ default: false })),
        }),
      },
    },
    async (request, reply) => {
      const { include_versions, ...filters } = request.query;
      reply.type('application/json; charset=utf-8').header('content-disposition', 'attachment; filename="tadween-export.json"');
      return reply.send(bulk.exportStream(actorOf(request), filters as ListFilters, include_versions ?? false));
    },
  );

  app.post(
    '/api/v1/knowledge/departments/classify',
    {
      config: { auth: { minRole: 'manager' } },
      schema: {
        tags: TAGS,
        summary: 'Assign entries to the closest department',
        description: 'Compares each entry with each department’s name, description and existing entries, in either language; below the confidence threshold entries stay unassigned.',
        body: Type.Object({
          entry_ids: Type.Optional(Type.Array(Uuid, { maxItems: 5000 })),
          only_unassigned: Type.Optional(Type.Boolean({ default: true })),
          dry_run: Type.Optional(Type.Boolean({ default: false })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({ entry_id: Uuid, department_id: Type.Union([Uuid, Type.Null()]), confidence: Type.Number() })),
            assigned: Type.Integer(),
          }),
        },
      },
    },
    async (request) => bulk.classify(actorOf(request), request.body),
  );

  return { service };
}
