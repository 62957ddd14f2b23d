import { Type, type Static } from 'typebox';
import { Paginated, PaginationQuery } from '../../platform/http/pagination.ts';

/** What an API key may be allowed to do. */
export const API_KEY_SCOPES = ['knowledge:read', 'knowledge:write', 'query'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
/** Scopes of a key created without `scopes`: read-only. */
export const DEFAULT_SCOPES: ApiKeyScope[] = ['knowledge:read', 'query'];

const Scope = Type.Enum([...API_KEY_SCOPES], { description: 'knowledge:read, knowledge:write or query' });

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'A label, e.g. the script or system using the key.' }),
    scopes: Type.Optional(
      Type.Array(Scope, { minItems: 1, maxItems: API_KEY_SCOPES.length * 2, description: `Default ${JSON.stringify(DEFAULT_SCOPES)}.` }),
    ),
    expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'When the key stops working (RFC 3339, in the future). Default: never.' })),
  },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>;

export const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  last4: Type.String({ description: 'The last four characters of the key.' }),
  scopes: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  created_by: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type ApiKey = Static<typeof ApiKey>;

export const CreatedApiKey = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The full key (`kn_…`). Shown only in this response; store it now.' }),
});

export const ApiKeyList = Paginated(ApiKey);
export const ListApiKeysQuery = Type.Object(PaginationQuery);

export const KeyIdParams = Type.Object({ key_id: Type.String({ format: 'uuid' }) });

export const UsageQuery = Type.Object({
  key_id: Type.Optional(Type.String({ format: 'uuid', description: 'Only this key.' })),
});

export const ApiKeyUsage = Type.Object({
  from: Type.String({ format: 'date', description: 'First day (UTC) of the window.' }),
  to: Type.String({ format: 'date', description: 'Last day (UTC), today.' }),
  days: Type.Integer({ description: 'Days in the window (30).' }),
  items: Type.Array(
    Type.Object({
      key_id: Type.String({ format: 'uuid' }),
      name: Type.String(),
      prefix: Type.String(),
      last4: Type.String(),
      status: ApiKey.properties.status,
      total_requests: Type.Integer(),
      daily: Type.Array(Type.Object({ date: Type.String({ format: 'date' }), requests: Type.Integer() }), {
        description: 'One entry per day of the window, oldest first, zero-filled.',
      }),
    }),
  ),
});
export type ApiKeyUsage = Static<typeof ApiKeyUsage>;
