import { and, count, desc, eq, gte, isNull, lt, or, sql } from 'drizzle-orm';
import { apiKeys, apiKeyUsage, organizations } from '../../db/schema/index.ts';
import type { Db } from '../../platform/db/client.ts';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Stores a new key (its hash, never the key). */
export async function insertKey(db: Db, row: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [created] = await db.insert(apiKeys).values(row).returning();
  return created!;
}

/** A page of an organisation's keys, newest first. */
export async function listKeys(db: Db, orgId: string, page: { limit: number; offset: number }): Promise<{ rows: ApiKeyRow[]; total: number }> {
  const where = eq(apiKeys.orgId, orgId);
  const [rows, totals] = await Promise.all([
    db.select().from(apiKeys).where(where).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(apiKeys).where(where),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}

/** Keys of an organisation that still work or may (not revoked, not expired). */
export async function countLiveKeys(db: Db, orgId: string): Promise<number> {
  const [r] = await db
    .select({ n: count() })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gte(apiKeys.expiresAt, new Date()))));
  return r?.n ?? 0;
}

/** Revokes a key of the organisation (keeping the first revocation time); undefined when it is not theirs. */
export async function revokeKey(db: Db, orgId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId)))
    .returning();
  return row;
}

/** Keys whose prefix matches, with their organisation's current plan and status (for authentication). */
export async function findByPrefix(db: Db, prefix: string) {
  return db
    .select({
      key: apiKeys,
      org: {
        id: organizations.id,
        plan: organizations.plan,
        trialEndsAt: organizations.trialEndsAt,
        subscriptionStatus: organizations.subscriptionStatus,
        defaultLanguage: organizations.defaultLanguage,
      },
    })
    .from(apiKeys)
    .innerJoin(organizations, eq(organizations.id, apiKeys.orgId))
    .where(eq(apiKeys.prefix, prefix))
    .limit(5);
}

/** Counts one request of a key today (UTC) and notes when it was last used (at most once a minute). */
export async function recordUse(db: Db, keyId: string, orgId: string): Promise<void> {
  await db
    .insert(apiKeyUsage)
    .values({ keyId, orgId, day: sql`(now() at time zone 'utc')::date`, requests: 1 })
    .onConflictDoUpdate({ target: [apiKeyUsage.keyId, apiKeyUsage.day], set: { requests: sql`${apiKeyUsage.requests} + 1` } });
  await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiKeys.id, keyId), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))));
}

/** Daily request counts of an organisation's keys from `fromDay` (YYYY-MM-DD) on. */
export async function usageSince(db: Db, orgId: string, fromDay: string, keyId?: string) {
  return db
    .select({ keyId: apiKeyUsage.keyId, day: apiKeyUsage.day, requests: apiKeyUsage.requests })
    .from(apiKeyUsage)
    .where(and(eq(apiKeyUsage.orgId, orgId), gte(apiKeyUsage.day, fromDay), keyId ? eq(apiKeyUsage.keyId, keyId) : undefined));
}

/** Keys of the organisation for the usage report: `keyId` only, or every key not revoked before `since`. */
export async function keysForUsage(db: Db, orgId: string, since: Date, keyId?: string): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), keyId ? eq(apiKeys.id, keyId) : or(isNull(apiKeys.revokedAt), gte(apiKeys.revokedAt, since))))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}
