import { and, asc, count, eq, sql } from 'drizzle-orm';
import { locations, organizations, orgByok, users } from '../../db/schema/index.ts';
import type { LlmSettings } from '../../platform/ai/providers.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import { PLAN_DEFINITIONS, PLANS } from '../../platform/auth/plans.ts';
import type { Sealer } from '../../platform/crypto/secrets.ts';
import { queryRows, type Db } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { presentOrg } from '../auth/auth.service.ts';

defineErrors({
  BYOK_NOT_CONFIGURED: { status: 404, en: 'No provider key is configured for this organisation.', ar: 'لم يُضبط مفتاح مزوّد لهذه المؤسسة.' },
  INVALID_TIMEZONE: { status: 422, en: 'Unknown time zone: {timezone}.', ar: 'منطقة زمنية غير معروفة: {timezone}.' },
});

/** Every plan with its price, limits and features, cheapest first. */
export function listPlans() {
  return PLANS.map((p) => {
    const d = PLAN_DEFINITIONS[p];
    return { id: d.id, name: d.name, price_cents: d.price_cents, currency: d.currency, user_limit: d.user_limit, integration_limit: d.integration_limit, trial_days: d.trial_days, features: d.features };
  });
}

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

type LocationRow = typeof locations.$inferSelect;
function presentLocation(l: LocationRow) {
  return { id: l.id, name: l.name, name_ar: l.nameAr, address: l.address, timezone: l.timezone, created_at: l.createdAt.toISOString(), updated_at: l.updatedAt.toISOString() };
}

/** Organisation profile, limits, locations and the organisation's own LLM key. */
export class OrgsService {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  private async org(orgId: string) {
    const [o] = await this.db.select().from(organizations).where(eq(organizations.id, orgId));
    if (!o) throw new AppError('NOT_FOUND');
    return o;
  }

  async me(actor: Actor) {
    return presentOrg(await this.org(actor.orgId));
  }

  async update(actor: Actor, input: { name?: string; default_language?: 'ar' | 'en'; timezone?: string }) {
    if (input.timezone !== undefined && !isTimezone(input.timezone)) throw new AppError('INVALID_TIMEZONE', { timezone: input.timezone });
    const [o] = await this.db
      .update(organizations)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.default_language !== undefined ? { defaultLanguage: input.default_language } : {}),
        ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
        updatedAt: new Date(),
      })
      .where(eq(organizations.id, actor.orgId))
      .returning();
    return presentOrg(o!);
  }

  /** Usage against each limit of the organisation's current plan (null limit = unlimited). */
  async limits(actor: Actor) {
    const o = await this.org(actor.orgId);
    const plan = PLAN_DEFINITIONS[o.plan];
    const [members] = await this.db.select({ n: count() }).from(users).where(and(eq(users.orgId, o.id), eq(users.status, 'active')));
    // Tables of capabilities that are not installed yet count as zero.
    const countIf = async (table: string, onlyLive = false): Promise<number> => {
      const [exists] = await queryRows<{ t: string | null }>(this.db, sql`SELECT to_regclass(${table})::text AS t`);
      if (!exists?.t) return 0;
      const [r] = await queryRows<{ n: number }>(
        this.db,
        sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE org_id = ${o.id} ${onlyLive ? sql`AND revoked_at IS NULL` : sql``}`,
      );
      return r?.n ?? 0;
    };
    return {
      plan: o.plan,
      users: { used: members?.n ?? 0, limit: plan.user_limit },
      integrations: { used: await countIf('integrations'), limit: plan.integration_limit },
      entries: { used: await countIf('knowledge_entries'), limit: null },
      storage_bytes: { used: 0, limit: null },
      api_keys: { used: await countIf('api_keys', true), limit: plan.features.includes('api_keys') ? 100 : 0 },
    };
  }

  async listLocations(actor: Actor) {
    const rows = await this.db.select().from(locations).where(eq(locations.orgId, actor.orgId)).orderBy(asc(locations.name));
    return { items: rows.map(presentLocation) };
  }

  async createLocation(actor: Actor, input: { name: string; name_ar?: string; address?: string; timezone?: string }) {
    if (input.timezone !== undefined && !isTimezone(input.timezone)) throw new AppError('INVALID_TIMEZONE', { timezone: input.timezone });
    const [row] = await this.db
      .insert(locations)
      .values({ id: newId(), orgId: actor.orgId, name: input.name, nameAr: input.name_ar ?? null, address: input.address ?? null, timezone: input.timezone ?? null })
      .returning();
    return presentLocation(row!);
  }

  async updateLocation(actor: Actor, id: string, input: { name?: string; name_ar?: string | null; address?: string | null; timezone?: string | null }) {
    if (input.timezone && !isTimezone(input.timezone)) throw new AppError('INVALID_TIMEZONE', { timezone: input.timezone });
    const [row] = await this.db
      .update(locations)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.name_ar !== undefined ? { nameAr: input.name_ar } : {}),
        ...(input.address !== undefined ? { address: input.address } : {}),
        ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(locations.id, id), eq(locations.orgId, actor.orgId)))
      .returning();
    if (!row) throw new AppError('NOT_FOUND', { resource: 'location' });
    return presentLocation(row);
  }

  async deleteLocation(actor: Actor, id: string): Promise<void> {
    const rows = await this.db.delete(locations).where(and(eq(locations.id, id), eq(locations.orgId, actor.orgId))).returning({ id: locations.id });
    if (rows.length === 0) throw new AppError('NOT_FOUND', { resource: 'location' });
  }

  /** The organisation's provider key settings, the key itself never shown (last 4 only). */
  async getByok(actor: Actor) {
    const [row] = await this.db.select().from(orgByok).where(eq(orgByok.orgId, actor.orgId));
    if (!row) throw new AppError('BYOK_NOT_CONFIGURED');
    return { provider: row.provider, base_url: row.baseUrl, model: row.model, api_key_last4: row.apiKeyLast4, updated_at: row.updatedAt.toISOString() };
  }

  async putByok(actor: Actor, input: { provider: 'openai-compatible' | 'anthropic'; api_key: string; base_url?: string; model: string }) {
    if (input.provider === 'openai-compatible' && !input.base_url) {
      throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'base_url', reason: 'is required for an OpenAI-compatible provider' }] });
    }
    const values = {
      orgId: actor.orgId,
      provider: input.provider,
      apiKeySealed: this.sealer.seal(input.api_key),
      apiKeyLast4: input.api_key.slice(-4),
      baseUrl: input.base_url ?? null,
      model: input.model,
      updatedBy: actor.userId ?? null,
      updatedAt: new Date(),
    };
    await this.db.insert(orgByok).values(values).onConflictDoUpdate({ target: orgByok.orgId, set: values });
    return this.getByok(actor);
  }

  async deleteByok(actor: Actor): Promise<void> {
    const rows = await this.db.delete(orgByok).where(eq(orgByok.orgId, actor.orgId)).returning({ id: orgByok.orgId });
    if (rows.length === 0) throw new AppError('BYOK_NOT_CONFIGURED');
  }

  /** The organisation's LLM settings with the key unsealed, for the AI providers only. */
  async byokSettings(orgId: string): Promise<LlmSettings | undefined> {
    const [row] = await this.db.select().from(orgByok).where(eq(orgByok.orgId, orgId));
    if (!row) return undefined;
    return { provider: row.provider, apiKey: this.sealer.open(row.apiKeySealed), model: row.model, ...(row.baseUrl ? { baseUrl: row.baseUrl } : {}) };
  }

  /** Makes a real, small call to the provider with the stored key and reports what it said. */
  async testByok(actor: Actor): Promise<{ ok: boolean; status?: number; error?: string; latency_ms: number }> {
    const s = await this.byokSettings(actor.orgId);
    if (!s) throw new AppError('BYOK_NOT_CONFIGURED');
    const started = performance.now();
    const base = (s.baseUrl ?? (s.provider === 'anthropic' ? 'https://api.anthropic.com/v1' : '')).replace(/\/+$/, '');
    const headers: Record<string, string> =
      s.provider === 'anthropic' ? { 'x-api-key': s.apiKey ?? '', 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${s.apiKey ?? ''}` };
    try {
      const res = await fetch(`${base}/models`, { headers, signal: AbortSignal.timeout(10_000), redirect: 'manual' });
      const latency = Math.round(performance.now() - started);
      if (res.ok) return { ok: true, status: res.status, latency_ms: latency };
      const text = (await res.text()).slice(0, 300);
      let message = text;
      try {
        const j = JSON.parse(text) as { error?: { message?: string } | string };
        message = typeof j.error === 'string' ? j.error : (j.error?.message ?? text);
      } catch {
        // not JSON: keep the text
      }
      return { ok: false, status: res.status, error: message, latency_ms: latency };
    } catch (err) {
      return { ok: false, error: (err as Error).name === 'TimeoutError' ? 'timeout after 10 s' : (err as Error).message, latency_ms: Math.round(performance.now() - started) };
    }
  }
}
