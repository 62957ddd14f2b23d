import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../../platform/auth/guard.ts';
import { subscriptionActive } from '../../platform/auth/guard.ts';
import type { Db } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { pageOf, type PageRequest } from '../../platform/http/pagination.ts';
import type { Lang } from '../../platform/i18n/lang.ts';
import * as repo from './api-keys.repo.ts';
import { DEFAULT_SCOPES, type ApiKey, type ApiKeyUsage, type CreateApiKeyBody } from './api-keys.schemas.ts';

defineErrors({
  API_KEY_INVALID: { status: 401, en: 'The API key is not valid.', ar: 'مفتاح الواجهة البرمجية غير صالح.' },
  API_KEY_EXPIRED: { status: 401, en: 'The API key has expired.', ar: 'انتهت صلاحية مفتاح الواجهة البرمجية.' },
  API_KEY_REVOKED: { status: 401, en: 'The API key has been revoked.', ar: 'أُلغي مفتاح الواجهة البرمجية.' },
  API_KEY_LIMIT_REACHED: {
    status: 409,
    en: 'This organisation already has {limit} active API keys; revoke one first.',
    ar: 'لدى هذه المؤسسة {limit} مفتاحًا نشطًا بالفعل؛ ألغِ أحدها أولًا.',
  },
});

/** The most keys an organisation may have that are neither revoked nor expired. */
export const MAX_LIVE_KEYS = 100;
/** Days covered by the usage report. */
export const USAGE_DAYS = 30;

const KEY_RE = /^kn_[A-Za-z0-9_-]{43}$/;
const PREFIX_LENGTH = 11; // "kn_" + 8 characters

/** SHA-256 of a key, hex: the only form in which keys are stored. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key: `kn_` + 32 random bytes in base64url (43 characters). */
export function generateKey(): string {
  return `kn_${randomBytes(32).toString('base64url')}`;
}

function statusOf(row: repo.ApiKeyRow, now = Date.now()): ApiKey['status'] {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt && row.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

/** The public form of a key: metadata only. */
export function presentKey(row: repo.ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    last4: row.last4,
    scopes: row.scopes,
    status: statusOf(row),
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** API keys: issuing, listing, revoking, usage, and turning a presented key into an actor. */
export class ApiKeysService {
  constructor(private readonly db: Db) {}

  /** Issues a key; the full key is in this result only. */
  async create(actor: Actor, input: CreateApiKeyBody): Promise<ApiKey & { key: string }> {
    let expiresAt: Date | null = null;
    if (input.expires_at !== undefined) {
      expiresAt = new Date(input.expires_at);
      if (!(expiresAt.getTime() > Date.now())) {
        throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'expires_at', reason: 'must be in the future', in: 'body' }] });
      }
    }
    if ((await repo.countLiveKeys(this.db, actor.orgId)) >= MAX_LIVE_KEYS) throw new AppError('API_KEY_LIMIT_REACHED', { limit: MAX_LIVE_KEYS });
    const key = generateKey();
    const row = await repo.insertKey(this.db, {
      id: newId(),
      orgId: actor.orgId,
      name: input.name.trim() || input.name,
      prefix: key.slice(0, PREFIX_LENGTH),
      keyHash: hashKey(key),
      last4: key.slice(-4),
      scopes: [...new Set(input.scopes ?? DEFAULT_SCOPES)],
      createdBy: actor.userId ?? null,
      expiresAt,
    });
    return { ...presentKey(row), key };
  }

  /** A page of the organisation's keys (metadata only), newest first. */
  async list(actor: Actor, page: PageRequest) {
    const { rows, total } = await repo.listKeys(this.db, actor.orgId, page);
    return pageOf(rows.map((r) => presentKey(r)), total, page);
  }

  /** Revokes a key at once; a key of another organisation is NOT_FOUND. */
  async revoke(actor: Actor, keyId: string): Promise<void> {
    const row = await repo.revokeKey(this.db, actor.orgId, keyId);
    if (!row) throw new AppError('NOT_FOUND');
  }

  /** Requests per key per UTC day over the last 30 days, zero-filled. */
  async usage(actor: Actor, q: { key_id?: string }): Promise<ApiKeyUsage> {
    const today = new Date();
    const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (USAGE_DAYS - 1)));
    const days = Array.from({ length: USAGE_DAYS }, (_, i) => day(new Date(from.getTime() + i * 86_400_000)));
    const [keys, counts] = await Promise.all([
      repo.keysForUsage(this.db, actor.orgId, from, q.key_id),
      repo.usageSince(this.db, actor.orgId, days[0]!, q.key_id),
    ]);
    if (q.key_id && keys.length === 0) throw new AppError('NOT_FOUND');
    const byKey = new Map<string, Map<string, number>>();
    for (const c of counts) {
      let m = byKey.get(c.keyId);
      if (!m) byKey.set(c.keyId, (m = new Map()));
      m.set(c.day, c.requests);
    }
    return {
      from: days[0]!,
      to: days[days.length - 1]!,
      days: USAGE_DAYS,
      items: keys.map((k) => {
        const m = byKey.get(k.id);
        const daily = days.map((d) => ({ date: d, requests: m?.get(d) ?? 0 }));
        return {
          key_id: k.id,
          name: k.name,
          prefix: k.prefix,
          last4: k.last4,
          status: statusOf(k),
          total_requests: daily.reduce((s, d) => s + d.requests, 0),
          daily,
        };
      }),
    };
  }

  /**
   * Resolves a presented key into an actor with the organisation's current plan and subscription
   * state; unknown, revoked and expired keys are 401.
   */
  async authenticate(token: string): Promise<Actor> {
    if (!KEY_RE.test(token)) throw new AppError('API_KEY_INVALID');
    const hash = Buffer.from(hashKey(token), 'hex');
    const candidates = await repo.findByPrefix(this.db, token.slice(0, PREFIX_LENGTH));
    const match = candidates.find((c) => timingSafeEqual(Buffer.from(c.key.keyHash, 'hex'), hash));
    if (!match) throw new AppError('API_KEY_INVALID');
    const { key, org } = match;
    if (key.revokedAt) throw new AppError('API_KEY_REVOKED');
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) throw new AppError('API_KEY_EXPIRED');
    return {
      orgId: org.id,
      role: 'member',
      plan: org.plan,
      isOrgOwner: false,
      scopes: key.scopes,
      authMethod: 'api_key',
      apiKeyId: key.id,
      language: org.defaultLanguage as Lang,
      subscriptionActive: subscriptionActive(org),
    };
  }

  /** Counts one accepted request of a key. */
  async recordUse(actor: Actor): Promise<void> {
    if (actor.apiKeyId) await repo.recordUse(this.db, actor.apiKeyId, actor.orgId);
  }
}
