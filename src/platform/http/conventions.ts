import { randomBytes, randomUUID } from 'node:crypto';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawRequestDefaultExpression,
  RouteOptions,
} from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';
import FindMyWay from 'find-my-way';
import { langFromAcceptLanguage, type Lang } from '../i18n/lang.ts';
import { AppError, errorMessage, errorSpec } from './errors.ts';
import { clampPage, clampPerPage } from './pagination.ts';
import { fieldErrorsFromAjv } from './validation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Language of messages for this request (Accept-Language, else the user's, else English). */
    lang: Lang;
    /** W3C trace id, from an incoming traceparent or new. */
    traceId: string;
    /** Language preference of the authenticated person or organisation, set by authentication. */
    preferredLang?: Lang;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Request id: a well-formed incoming X-Request-ID is kept, anything else is replaced. */
export function genReqId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = req.headers['x-request-id'];
  if (typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming;
  return randomUUID();
}

/** Parses a W3C traceparent header; undefined when absent or malformed. */
export function parseTraceparent(h: unknown): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof h !== 'string') return undefined;
  const m = TRACEPARENT.exec(h.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
}

interface TraceContext {
  traceId: string;
  spanId: string;
  parentId?: string;
  flags: string;
}
const TRACE = Symbol('tadween.trace');

/** The trace context of a raw request: continued from its traceparent, or new; computed once. */
export function traceOf(raw: object): TraceContext {
  const holder = raw as { [TRACE]?: TraceContext; headers?: Record<string, unknown> };
  if (!holder[TRACE]) {
    const tp = parseTraceparent(holder.headers?.traceparent);
    holder[TRACE] = {
      traceId: tp?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      ...(tp ? { parentId: tp.parentId } : {}),
      flags: tp?.flags ?? '01',
    };
  }
  return holder[TRACE];
}

/** Fastify child-logger factory: every log line of a request carries its trace and span ids. */
export function childLoggerFactory(
  this: FastifyInstance,
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
  rawReq: RawRequestDefaultExpression,
): FastifyBaseLogger {
  const tc = traceOf(rawReq);
  return logger.child({ ...bindings, trace_id: tc.traceId, span_id: tc.spanId, ...(tc.parentId ? { parent_span_id: tc.parentId } : {}) }, opts);
}

/** Sends the error envelope for `code` in the caller's language. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  code: string,
  details: Record<string, unknown> = {},
  params: Record<string, unknown> = {},
): FastifyReply {
  const spec = errorSpec(code);
  return reply
    .code(spec.status)
    .type('application/json; charset=utf-8')
    .send({ error: { code, message: errorMessage(code, request.lang, { ...details, ...params }), details } });
}

/**
 * Installs the API conventions on the root instance: request ids, trace context, language,
 * the error envelope for every failure (404, 405, 400, 413, 415, 422, 500), pagination clamping
 * and UUID-list splitting.
 */
export function installConventions(app: FastifyInstance): void {
  // A shadow router of every registered path, so an unknown method on a known path answers 405.
  const shadow = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  const methodsByPath = new Map<string, Set<string>>();

  app.decorateRequest('lang', 'en');
  app.decorateRequest('traceId', '');
  app.decorateRequest('preferredLang', undefined);

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let set = methodsByPath.get(route.url);
    if (!set) {
      set = new Set();
      methodsByPath.set(route.url, set);
      try {
        shadow.on('GET', route.url, () => undefined, { path: route.url });
      } catch {
        // Paths find-my-way cannot express (none today) simply fall back to 404.
      }
    }
    for (const m of methods) set.add(m);
    attachQueryNormaliser(route);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    request.lang = langFromAcceptLanguage(request.headers['accept-language']) ?? 'en';
    const tc = traceOf(request.raw);
    request.traceId = tc.traceId;
    reply.header('traceparent', `00-${tc.traceId}-${tc.spanId}-${tc.flags}`);
  });

  app.setNotFoundHandler((request, reply) => {
    const url = request.url.split('?')[0] ?? '/';
    const found = shadow.find('GET', url);
    const store = found?.store as { path?: string } | undefined;
    const allowed = store?.path ? methodsByPath.get(store.path) : undefined;
    if (allowed && !allowed.has(request.method)) {
      const list = [...allowed].sort().join(', ');
      reply.header('allow', list);
      return sendError(request, reply, 'METHOD_NOT_ALLOWED', { allowed: [...allowed].sort() }, { method: request.method, allowed: list });
    }
    return sendError(request, reply, 'NOT_FOUND', { method: request.method, path: url });
  });

  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (request.preferredLang && !langFromAcceptLanguage(request.headers['accept-language'])) request.lang = request.preferredLang;
    if (err instanceof AppError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      if (err.status >= 500) request.log.error({ err, code: err.code }, 'request failed');
      return sendError(request, reply, err.code, err.details, err.params);
    }
    const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string };
    if (Array.isArray(fe.validation)) {
      const fields = fieldErrorsFromAjv(fe.validation as never[], fe.validationContext, request.lang);
      return sendError(request, reply, 'VALIDATION_ERROR', { fields });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(request, reply, 'INVALID_JSON');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
      case 'FST_REQ_FILE_TOO_LARGE':
      case 'FST_PARTS_LIMIT':
      case 'FST_FILES_LIMIT':
        return sendError(request, reply, 'PAYLOAD_TOO_LARGE', { limit: request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit }, {});
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
        return sendError(request, reply, fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ? 'BAD_REQUEST' : 'UNSUPPORTED_MEDIA_TYPE');
      default:
        break;
    }
    if (err instanceof SyntaxError && (fe.statusCode === 400 || /JSON/.test(err.message))) return sendError(request, reply, 'INVALID_JSON');
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = fe.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : fe.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : fe.statusCode === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST';
      return sendError(request, reply, code, code === 'PAYLOAD_TOO_LARGE' ? { limit: request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit } : {});
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(request, reply, 'INTERNAL_ERROR', { request_id: request.id });
  });
}

/**
 * For routes whose querystring declares pagination or array parameters, rewrites the raw query
 * before validation: page/per_page are clamped, and comma-separated lists are split.
 */
function attachQueryNormaliser(route: RouteOptions): void {
  const qs = route.schema?.querystring as { properties?: Record<string, { type?: string }> } | undefined;
  const props = qs?.properties;
  if (!props) return;
  const arrays = Object.entries(props)
    .filter(([, s]) => s.type === 'array')
    .map(([k]) => k);
  const paginated = 'page' in props || 'per_page' in props;
  if (!paginated && arrays.length === 0) return;
  const normalise = async (request: FastifyRequest): Promise<void> => {
    const q = request.query as Record<string, unknown>;
    if (!q || typeof q !== 'object') return;
    if (paginated) {
      if ('page' in props && q.page !== undefined) q.page = clampPage(q.page);
      if ('per_page' in props && q.per_page !== undefined) q.per_page = clampPerPage(q.per_page);
    }
    for (const k of arrays) {
      const v = q[k];
      if (v === undefined) continue;
      const list = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
      q[k] = list;
    }
  };
  const existing = route.preValidation;
  route.preValidation = existing ? [normalise, ...(Array.isArray(existing) ? existing : [existing])] : [normalise];
}
