import { interpolate, type Lang } from '../i18n/lang.ts';

/** How one error code is reported: its HTTP status and its message in each language. */
export interface ErrorSpec {
  status: number;
  en: string;
  ar: string;
}

const registry = new Map<string, ErrorSpec>();

/**
 * Registers error codes with their status and bilingual messages. Modules call this once at
 * load time for the codes they throw; a code may be defined only once.
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(specs: T): { [K in keyof T]: K } {
  const out = {} as { [K in keyof T]: K };
  for (const [code, spec] of Object.entries(specs)) {
    const existing = registry.get(code);
    if (existing && (existing.status !== spec.status || existing.en !== spec.en)) {
      throw new Error(`error code ${code} is defined twice with different meanings`);
    }
    registry.set(code, spec);
    (out as Record<string, string>)[code] = code;
  }
  return out;
}

/** The spec of a registered code (INTERNAL_ERROR for unknown ones). */
export function errorSpec(code: string): ErrorSpec {
  return registry.get(code) ?? registry.get('INTERNAL_ERROR')!;
}

/** Renders the message of `code` in `lang`, filling `{placeholders}` from params. */
export function errorMessage(code: string, lang: Lang, params?: Record<string, unknown>): string {
  return interpolate(errorSpec(code)[lang], params);
}

/**
 * A domain error with a stable code. Services throw it; the HTTP layer turns it into the error
 * envelope with the registered status and a message in the caller's language.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly details: Record<string, unknown> = {},
    /** Values for the message placeholders; not sent to the client unless also in details. */
    readonly params: Record<string, unknown> = {},
    /** Extra response headers (Retry-After, Allow, ...). */
    readonly headers: Record<string, string> = {},
  ) {
    super(code);
    this.name = 'AppError';
  }

  get status(): number {
    return errorSpec(this.code).status;
  }
}

export const E = defineErrors({
  BAD_REQUEST: { status: 400, en: 'The request could not be understood.', ar: 'تعذّر فهم الطلب.' },
  INVALID_JSON: { status: 400, en: 'The request body is not valid JSON.', ar: 'متن الطلب ليس JSON صالحًا.' },
  UNAUTHORIZED: { status: 401, en: 'Authentication is required.', ar: 'يلزم تسجيل الدخول.' },
  FORBIDDEN: { status: 403, en: 'You are not allowed to do this.', ar: 'غير مسموح لك بتنفيذ هذا الإجراء.' },
  NOT_FOUND: { status: 404, en: 'Not found.', ar: 'غير موجود.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    en: 'Method {method} is not allowed here; allowed: {allowed}.',
    ar: 'الطريقة {method} غير مسموحة هنا؛ المسموح: {allowed}.',
  },
  NOT_ACCEPTABLE: { status: 406, en: 'The requested representation is not available.', ar: 'التمثيل المطلوب غير متاح.' },
  CONFLICT: { status: 409, en: 'The request conflicts with the current state.', ar: 'يتعارض الطلب مع الحالة الحالية.' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    en: 'The request body is too large (limit {limit} bytes).',
    ar: 'متن الطلب أكبر من المسموح (الحد {limit} بايت).',
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, en: 'This content type is not supported.', ar: 'نوع المحتوى هذا غير مدعوم.' },
  VALIDATION_ERROR: { status: 422, en: 'The request is invalid.', ar: 'الطلب غير صالح.' },
  RATE_LIMITED: {
    status: 429,
    en: 'Too many requests; try again in {retry_after} seconds.',
    ar: 'طلبات كثيرة؛ أعد المحاولة بعد {retry_after} ثانية.',
  },
  INTERNAL_ERROR: { status: 500, en: 'Something went wrong on our side.', ar: 'حدث خطأ من جهتنا.' },
  SERVICE_UNAVAILABLE: { status: 503, en: 'The service is unavailable.', ar: 'الخدمة غير متاحة.' },
});
