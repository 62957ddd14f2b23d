import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { idempotencyKeys } from '../../db/schema/index.ts';
import type { Sealer } from '../crypto/secrets.ts';
import type { Db } from '../db/client.ts';
import { AppError, defineErrors } from './errors.ts';

defineErrors({
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    en: 'This Idempotency-Key was already used with a different request.',
    ar: 'استُخدم مفتاح Idempotency-Key هذا من قبل مع طلب مختلف.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    en: 'A request with this Idempotency-Key is still being processed.',
    ar: 'ما زال طلب بمفتاح Idempotency-Key هذا قيد المعالجة.',
  },
  IDEMPOTENCY_KEY_INVALID: {
    status: 422,
    en: 'The Idempotency-Key header must be 1 to 255 printable characters.',
    ar: 'يجب أن يتكون رأس Idempotency-Key من 1 إلى 255 حرفًا مطبوعًا.',
  },
});

/** How long a key and its response are remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** An in-progress claim older than this is taken to belong to a crashed request. */
const STALE_CLAIM_MS = 5 * 60_000;

/** `replay: 'original'` returns the original status (the /api/v1 family); `'ok'` returns 200 (the /v1 family). */
export interface IdempotencyOption {
  replay?: 'original' | 'ok';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour the Idempotency-Key header on this create route. */
    idempotent?: boolean | IdempotencyOption;
  }
  interface FastifyRequest {
    idempotency?: { orgId: string; key: string };
  }
}

/** Canonical JSON (sorted keys) so the same body in another key order hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function requestHash(request: FastifyRequest): string {
  const isMultipart = (request.headers['content-type'] ?? '').startsWith('multipart/');
  const body = isMultipart ? `multipart:${request.headers['content-length'] ?? ''}` : canonical(request.body ?? null);
  return createHash('sha256')
    .update(`${request.method} ${request.routeOptions.url}\n${canonical(request.params ?? {})}\n${canonical(request.query ?? {})}\n${body}`)
    .digest('hex');
}

/**
 * Installs Idempotency-Key handling for routes declaring `config.idempotent`: the first request with a
 * key is processed and its 2xx response remembered for 24 hours per organisation; the same key with
 * the same request replays that response with `Idempotent-Replayed: true`; with a different request
 * → 422 IDEMPOTENCY_KEY_REUSED; while the first is still running → 409 IDEMPOTENCY_IN_PROGRESS.
 * Failed requests release the key so a corrected retry is processed. Remembered bodies are sealed
 * at rest: a create response may carry a secret shown only once (an API key, a signing secret).
 */
export function installIdempotency(app: FastifyInstance, db: Db, sealer: Sealer): void {
  app.decorateRequest('idempotency', undefined);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const opt = request.routeOptions.config?.idempotent;
    if (!opt) return;
    const raw = request.headers['idempotency-key'];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key || key.length > 255 || !/^[\x20-\x7e]+$/.test(key)) throw new AppError('IDEMPOTENCY_KEY_INVALID');
    const orgId = request.actor?.orgId;
    if (!orgId) return;
    const hash = requestHash(request);
    const now = Date.now();
    const claimed = await db
      .insert(idempotencyKeys)
      .values({ orgId, key, requestHash: hash, state: 'in_progress', expiresAt: new Date(now + IDEMPOTENCY_TTL_MS) })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (claimed.length > 0) {
      request.idempotency = { orgId, key };
      if (Math.random() < 0.01) void db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, new Date())).catch(() => undefined);
      return;
    }
    const [existing] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, key)));
    const expired = !existing || existing.expiresAt.getTime() < now;
    const staleClaim = existing?.state === 'in_progress' && now - existing.createdAt.getTime() > STALE_CLAIM_MS;
    if (expired || staleClaim) {
      // Take the key over atomically: only one concurrent request can win the conditional update.
      const taken = await db
        .update(idempotencyKeys)
        .set({ requestHash: hash, state: 'in_progress', responseStatus: null, responseBody: null, createdAt: new Date(), expiresAt: new Date(now + IDEMPOTENCY_TTL_MS) })
        .where(
          and(
            eq(idempotencyKeys.orgId, orgId),
            eq(idempotencyKeys.key, key),
            existing ? eq(idempotencyKeys.createdAt, existing.createdAt) : sql`true`,
          ),
        )
        .returning({ key: idempotencyKeys.key });
      if (taken.length > 0) {
        request.idempotency = { orgId, key };
        return;
      }
      throw new AppError('IDEMPOTENCY_IN_PROGRESS');
    }
    if (existing.requestHash !== hash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    if (existing.state === 'in_progress') throw new AppError('IDEMPOTENCY_IN_PROGRESS');
    const replay = typeof opt === 'object' && opt.replay === 'ok' ? 200 : (existing.responseStatus ?? 200);
    reply
      .code(replay)
      .header('idempotent-replayed', 'true')
      .type(existing.responseContentType ?? 'application/json; charset=utf-8');
    return reply.send(existing.responseBody ? sealer.open(existing.responseBody) : '');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = undefined;
    const where = and(eq(idempotencyKeys.orgId, claim.orgId), eq(idempotencyKeys.key, claim.key));
    if (reply.statusCode >= 200 && reply.statusCode < 300 && (typeof payload === 'string' || payload === null || payload === undefined)) {
      await db
        .update(idempotencyKeys)
        .set({
          state: 'completed',
          responseStatus: reply.statusCode,
          responseBody: sealer.seal((payload as string | null) ?? ''),
          responseContentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
        })
        .where(where);
    } else {
      await db.delete(idempotencyKeys).where(where);
    }
    return payload;
  });
}
