import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';

const Jwk = Type.Object({ kty: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.Optional(Type.String()) }, { additionalProperties: true });

/** Public discovery documents: the keys that verify Tadween's access tokens. */
export function register(app: App, deps: Deps): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Public keys that verify access tokens (JWKS)',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return (await deps.keys.jwks()) as { keys: Array<{ kty: string; kid: string; alg: string }> };
    },
  );
}
