import { interpolate, type Lang } from '../i18n/lang.ts';

/** One invalid input field as reported in `details.fields`. */
export interface FieldError {
  field: string;
  reason: string;
  /** Where the field was: body, querystring, params or headers. */
  in?: string;
}

interface AjvLikeError {
  instancePath?: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}

const REASONS: Record<string, { en: string; ar: string }> = {
  required: { en: 'is required', ar: 'حقل مطلوب' },
  type: { en: 'must be of type {type}', ar: 'يجب أن يكون من النوع {type}' },
  minLength: { en: 'must be at least {limit} characters long', ar: 'يجب ألا يقل طوله عن {limit} حرفًا' },
  maxLength: { en: 'must be at most {limit} characters long', ar: 'يجب ألا يزيد طوله عن {limit} حرفًا' },
  minimum: { en: 'must be at least {limit}', ar: 'يجب ألا يقل عن {limit}' },
  maximum: { en: 'must be at most {limit}', ar: 'يجب ألا يزيد عن {limit}' },
  exclusiveMinimum: { en: 'must be greater than {limit}', ar: 'يجب أن يكون أكبر من {limit}' },
  exclusiveMaximum: { en: 'must be less than {limit}', ar: 'يجب أن يكون أصغر من {limit}' },
  format: { en: 'must be a valid {format}', ar: 'يجب أن يكون بصيغة {format} صحيحة' },
  enum: { en: 'must be one of: {allowed}', ar: 'يجب أن يكون إحدى القيم: {allowed}' },
  const: { en: 'must be {allowed}', ar: 'يجب أن يساوي {allowed}' },
  pattern: { en: 'has an invalid format', ar: 'صيغته غير صحيحة' },
  minItems: { en: 'must have at least {limit} items', ar: 'يجب أن يحتوي على {limit} عناصر على الأقل' },
  maxItems: { en: 'must have at most {limit} items', ar: 'يجب ألا يحتوي على أكثر من {limit} عنصرًا' },
  uniqueItems: { en: 'must not contain duplicates', ar: 'يجب ألا يحتوي على عناصر مكررة' },
  additionalProperties: { en: 'is not an allowed field', ar: 'حقل غير مسموح به' },
  minProperties: { en: 'must not be empty', ar: 'يجب ألا يكون فارغًا' },
  anyOf: { en: 'does not match any allowed form', ar: 'لا يطابق أيًّا من الصيغ المسموحة' },
  oneOf: { en: 'does not match exactly one allowed form', ar: 'لا يطابق صيغة واحدة بالضبط من الصيغ المسموحة' },
  invalid: { en: 'is invalid', ar: 'قيمة غير صالحة' },
};

/** A reason sentence for a validation keyword in the given language. */
export function reasonFor(keyword: string, lang: Lang, params: Record<string, unknown> = {}): string {
  const t = REASONS[keyword] ?? REASONS.invalid!;
  return interpolate(t[lang], params);
}

/** Converts Ajv errors into `{field, reason}` entries, one per field, in the caller's language. */
export function fieldErrorsFromAjv(errors: AjvLikeError[], location: string | undefined, lang: Lang): FieldError[] {
  const seen = new Map<string, { entry: FieldError; keyword: string }>();
  // An anyOf/oneOf failure repeats its branches' errors; report the union failure only once per field.
  for (const e of errors) {
    const p = e.params ?? {};
    let pointer = e.instancePath ?? '';
    if (e.keyword === 'required' && typeof p.missingProperty === 'string') pointer += `/${p.missingProperty}`;
    if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') pointer += `/${p.additionalProperty}`;
    const field =
      pointer
        .split('/')
        .filter(Boolean)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .join('.') || location || 'body';
    const params: Record<string, unknown> = { ...p };
    if (Array.isArray(p.allowedValues)) params.allowed = p.allowedValues.join(', ');
    if (e.keyword === 'const') params.allowed = JSON.stringify(p.allowedValue);
    const entry: FieldError = { field, reason: reasonFor(e.keyword, lang, params), ...(location ? { in: location } : {}) };
    const prior = seen.get(field);
    // Prefer the most specific reason: a union keyword only when nothing else was said of the field.
    if (!prior || UNION_KEYWORDS.has(prior.keyword)) seen.set(field, { entry, keyword: e.keyword });
  }
  return [...seen.values()].map((v) => v.entry);
}

const UNION_KEYWORDS = new Set(['anyOf', 'oneOf']);
