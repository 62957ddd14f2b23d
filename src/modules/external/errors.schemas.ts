import { Type, type TSchema } from 'typebox';

/** The error envelope every failure uses: `{"error":{"code","message","details"}}`. */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable SNAKE_CASE code.' }),
      message: Type.String({ description: "In the caller's language (Accept-Language ar or en)." }),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { description: 'Error envelope' },
);

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request (INVALID_JSON, BAD_REQUEST)',
  401: 'Missing, invalid, expired or revoked credentials',
  402: 'SUBSCRIPTION_REQUIRED: the trial ended or the subscription is inactive',
  403: 'INSUFFICIENT_ROLE, PLAN_UPGRADE_REQUIRED or INSUFFICIENT_SCOPE',
  404: 'NOT_FOUND (also for resources of another organisation)',
  409: 'Conflict (IDEMPOTENCY_IN_PROGRESS, limits)',
  422: 'VALIDATION_ERROR, URL_NOT_ALLOWED or IDEMPOTENCY_KEY_REUSED',
  429: 'RATE_LIMITED (see Retry-After and X-RateLimit-*)',
};

/** Response schemas for the error statuses a route can answer with. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Object(ErrorEnvelope.properties, { description: DESCRIPTIONS[s] ?? 'Error' });
  return out;
}

/** The statuses every guarded `/api/v1` route may answer with. */
export const GUARDED = [401, 402, 403] as const;
