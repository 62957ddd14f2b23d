import { randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../http/errors.ts';
import type { KeyStore } from './keystore.ts';
import type { Plan, Role } from './plans.ts';

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
/** Audience of organisation access tokens. */
export const ORG_AUDIENCE = 'tadween:api';
/** Audience of instance-administrator tokens: they open no organisation's data. */
export const INSTANCE_AUDIENCE = 'tadween:instance';

/** The claims of an organisation access token, as the product contract lists them. */
export interface AccessClaims {
  sub: string;
  role: Role;
  email: string;
  org_id: string;
  org_plan: Plan;
  is_org_owner: boolean;
}

export type VerifiedAccess = AccessClaims & Required<Pick<JWTPayload, 'iat' | 'exp' | 'jti' | 'iss'>>;

/** Signs and verifies access tokens with the key store's asymmetric keys (`kid` in the header). */
export class TokenService {
  constructor(
    private readonly keys: KeyStore,
    private readonly issuer: string,
  ) {}

  /** Signs a one-hour organisation access token. */
  async signAccess(claims: AccessClaims): Promise<{ token: string; jti: string; expiresIn: number }> {
    return this.sign({ ...claims }, claims.sub, ORG_AUDIENCE, ACCESS_TOKEN_TTL_SECONDS);
  }

  /** Signs any token of this issuer for `audience`. */
  async sign(payload: Record<string, unknown>, subject: string, audience: string, ttlSeconds: number): Promise<{ token: string; jti: string; expiresIn: number }> {
    const key = await this.keys.signingKey();
    const jti = randomUUID();
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setJti(jti)
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(key.privateKey);
    return { token, jti, expiresIn: ttlSeconds };
  }

  /** Verifies signature, issuer, audience and expiry; throws 401 TOKEN_INVALID or TOKEN_EXPIRED. */
  async verify<T = JWTPayload>(token: string, audience: string): Promise<T & Required<Pick<JWTPayload, 'iat' | 'exp' | 'jti' | 'sub'>>> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new AppError('TOKEN_INVALID');
    }
    const key = kid ? await this.keys.verificationKey(kid) : undefined;
    if (!key) throw new AppError('TOKEN_INVALID');
    try {
      const { payload } = await jwtVerify(token, key, { issuer: this.issuer, audience, algorithms: ['ES256', 'RS256'] });
      if (!payload.jti || !payload.sub || !payload.exp || !payload.iat) throw new AppError('TOKEN_INVALID');
      return payload as T & Required<Pick<JWTPayload, 'iat' | 'exp' | 'jti' | 'sub'>>;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new AppError('TOKEN_EXPIRED');
      throw new AppError('TOKEN_INVALID');
    }
  }
}
