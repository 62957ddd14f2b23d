import { Type, type Static } from 'typebox';
import { Paginated, PaginationQuery, UuidList } from '../../platform/http/pagination.ts';

const Language = Type.Union([Type.Literal('ar'), Type.Literal('en'), Type.Literal('mixed')]);

/** Entry filters accepted by search and questions. */
export const FilterProps = {
  tag_ids: UuidList('Entries carrying any of these tags'),
  department_id: Type.Optional(Type.String({ format: 'uuid' })),
  category_id: Type.Optional(Type.String({ format: 'uuid' })),
  language: Type.Optional(Language),
  verified: Type.Optional(Type.Boolean()),
};

export const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 1000, pattern: '\\S', description: 'What to look for, in Arabic, English or both' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })),
  ...FilterProps,
});
export type SearchQuery = Static<typeof SearchQuery>;

export const SearchResult = Type.Object({
  items: Type.Array(
    Type.Object({
      entry_id: Type.String({ format: 'uuid' }),
      title: Type.String(),
      snippet: Type.String(),
      highlights: Type.Array(Type.String()),
      score: Type.Number(),
      chunk_id: Type.Union([Type.String(), Type.Null()]),
      language: Type.String(),
      verified: Type.Boolean(),
      status: Type.String({ description: 'active or needs_review (archived entries never appear)' }),
      review_overdue: Type.Boolean({ description: 'The entry is past its review date' }),
    }),
  ),
  took_ms: Type.Number(),
  mode: Type.Union([Type.Literal('lexical'), Type.Literal('hybrid')]),
});

export const AskBody = Type.Object({
  question: Type.String({ minLength: 1, maxLength: 2000, pattern: '\\S', description: 'The question; at least one character that is not a space' }),
  filters: Type.Optional(Type.Object(FilterProps)),
  language: Type.Optional(Type.Union([Type.Literal('ar'), Type.Literal('en')], { description: 'Answer language; the question language by default' })),
});
export type AskBody = Static<typeof AskBody>;

export const Citation = Type.Object({
  entry_id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  chunk_id: Type.Union([Type.String(), Type.Null()]),
  quote: Type.String(),
  score: Type.Number(),
});

export const AskResult = Type.Object({
  answer: Type.String(),
  citations: Type.Array(Citation),
  confidence: Type.Number({ minimum: 0, maximum: 1 }),
  language: Type.Union([Type.Literal('ar'), Type.Literal('en')]),
  query_id: Type.String({ format: 'uuid' }),
  gap_id: Type.Optional(Type.String({ format: 'uuid' })),
});

export const HistoryItem = Type.Object({
  query_id: Type.String({ format: 'uuid' }),
  question: Type.String(),
  answer: Type.String(),
  answered: Type.Boolean(),
  confidence: Type.Number(),
  language: Type.String(),
  citations: Type.Array(Type.Object({ entry_id: Type.String(), chunk_id: Type.Union([Type.String(), Type.Null()]), title: Type.String(), score: Type.Number() })),
  gap_id: Type.Union([Type.String(), Type.Null()]),
  latency_ms: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
});

export const Gap = Type.Object({
  id: Type.String({ format: 'uuid' }),
  question: Type.String(),
  language: Type.String(),
  ask_count: Type.Integer(),
  status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  first_asked_at: Type.String({ format: 'date-time' }),
  last_asked_at: Type.String({ format: 'date-time' }),
  resolved_entry_id: Type.Union([Type.String(), Type.Null()]),
  resolved_by: Type.Union([Type.String(), Type.Null()]),
  resolved_at: Type.Union([Type.String(), Type.Null()]),
});

export const GapsQuery = Type.Object({
  ...PaginationQuery,
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
  sort: Type.Optional(Type.Union([Type.Literal('ask_count'), Type.Literal('last_asked')], { default: 'last_asked' })),
});

export const HistoryQuery = Type.Object({ ...PaginationQuery });
export const HistoryPage = Paginated(HistoryItem);
export const GapsPage = Paginated(Gap);

export const ResolveBody = Type.Object({ entry_id: Type.String({ format: 'uuid' }) });

export const AnalyticsQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (inclusive); 30 days ago by default' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); now by default' })),
});

export const Analytics = Type.Object({
  from: Type.String(),
  to: Type.String(),
  totals: Type.Object({ asked: Type.Integer(), answered: Type.Integer(), gaps: Type.Integer() }),
  days: Type.Array(
    Type.Object({
      day: Type.String(),
      asked: Type.Integer(),
      answered: Type.Integer(),
      gaps: Type.Integer(),
      avg_confidence: Type.Number(),
      latency_p50_ms: Type.Number(),
      latency_p95_ms: Type.Number(),
    }),
  ),
  top_questions: Type.Array(Type.Object({ question: Type.String(), count: Type.Integer() })),
  most_cited_entries: Type.Array(Type.Object({ entry_id: Type.String(), title: Type.Union([Type.String(), Type.Null()]), count: Type.Integer() })),
});
