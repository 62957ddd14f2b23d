import { Type, type TSchema } from 'typebox';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/** Query parameters every `/api/v1` list accepts; out-of-range values are clamped before validation. */
export const PaginationQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'Page number, from 1; out-of-range values are clamped.' })),
  per_page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE, description: 'Items per page, 1 to 100; out-of-range values are clamped.' }),
  ),
};

/** The `pagination` object of a list response. */
export const PaginationMeta = Type.Object({
  page: Type.Integer(),
  per_page: Type.Integer(),
  total: Type.Integer(),
  total_pages: Type.Integer(),
  has_next: Type.Boolean(),
  has_prev: Type.Boolean(),
});

/** Response schema of a paginated list of `item`. */
export function Paginated<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), pagination: PaginationMeta });
}

/** Clamps a raw page value: anything that is not a positive integer becomes 1. */
export function clampPage(raw: unknown): number {
  const n = toInt(raw);
  return n === undefined || n < 1 ? 1 : Math.min(n, 1_000_000);
}

/** Clamps a raw per_page value into 1..100; non-numbers get the default. */
export function clampPerPage(raw: unknown): number {
  const n = toInt(raw);
  if (n === undefined) return DEFAULT_PER_PAGE;
  return Math.max(1, Math.min(MAX_PER_PAGE, n));
}

function toInt(raw: unknown): number | undefined {
  if (Array.isArray(raw)) raw = raw[0];
  if (typeof raw === 'number' && Number.isFinite(raw)) return Math.trunc(raw);
  if (typeof raw !== 'string' || !/^\s*[-+]?\d+(\.\d+)?\s*$/.test(raw)) return undefined;
  const n = Math.trunc(Number(raw));
  return Number.isSafeInteger(n) ? n : raw.trim().startsWith('-') ? -1 : Number.MAX_SAFE_INTEGER;
}

/** A page request resolved to SQL terms. */
export interface PageRequest {
  page: number;
  perPage: number;
  limit: number;
  offset: number;
}

/** Resolves `page`/`per_page` (already clamped) into limit and offset. */
export function pageRequest(q: { page?: number; per_page?: number }): PageRequest {
  const page = clampPage(q.page);
  const perPage = clampPerPage(q.per_page);
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage };
}

/** Builds the `{items, pagination}` envelope. */
export function pageOf<T>(items: T[], total: number, req: PageRequest) {
  const totalPages = Math.max(1, Math.ceil(total / req.perPage));
  return {
    items,
    pagination: {
      page: req.page,
      per_page: req.perPage,
      total,
      total_pages: totalPages,
      has_next: req.page < totalPages,
      has_prev: req.page > 1,
    },
  };
}

/** A filter accepting one or more UUIDs, repeated (`?a=x&a=y`) or comma-separated (`?a=x,y`). */
export function UuidList(description?: string) {
  return Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100, ...(description ? { description } : {}) }));
}
