import { asc, isNull } from 'drizzle-orm';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { signingKeys } from '../../db/schema/index.ts';
import type { Db } from '../db/client.ts';
import { newId } from '../db/ids.ts';
import type { Sealer } from '../crypto/secrets.ts';

export const SIGNING_ALG = 'ES256';

export interface ActiveKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
}

/**
 * Access-token signing keys, kept in the database with their private halves sealed, so every API
 * node signs with the same key and public halves can be published (JWKS) and rotated.
 */
export class KeyStore {
  private active?: ActiveKey;
  private publicKeys = new Map<string, CryptoKey>();
  private loadedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  /** Loads the keys, creating the first one when there is none. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.active) {
      await this.rotate();
    }
  }

  /** Makes a new signing key current; older keys keep verifying until retired and pruned. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = newId();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
    await this.db.transaction(async (tx) => {
      await tx.update(signingKeys).set({ retiredAt: new Date() }).where(isNull(signingKeys.retiredAt));
      await tx.insert(signingKeys).values({ kid, alg: SIGNING_ALG, publicJwk, privateJwkEncrypted: this.sealer.seal(JSON.stringify(privateJwk)) });
    });
    await this.reload();
    return kid;
  }

  private async reload(): Promise<void> {
    const rows = await this.db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
    const pub = new Map<string, CryptoKey>();
    let active: ActiveKey | undefined;
    for (const r of rows) {
      pub.set(r.kid, (await importJWK(r.publicJwk as JWK, r.alg)) as CryptoKey);
      if (!r.retiredAt) {
        const jwk = JSON.parse(this.sealer.open(r.privateJwkEncrypted)) as JWK;
        active = { kid: r.kid, alg: r.alg, privateKey: (await importJWK(jwk, r.alg)) as CryptoKey };
      }
    }
    this.publicKeys = pub;
    this.active = active;
    this.loadedAt = Date.now();
  }

  /** The key new tokens are signed with (refreshed from the database every minute). */
  async signingKey(): Promise<ActiveKey> {
    if (Date.now() - this.loadedAt > 60_000) await this.reload();
    if (!this.active) await this.init();
    return this.active!;
  }

  /** The public key for a `kid`, reloading once when it is unknown (another node may have rotated). */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    if (!this.publicKeys.has(kid) && Date.now() - this.loadedAt > 1_000) await this.reload();
    return this.publicKeys.get(kid);
  }

  /** Public JWKs of every key still published. */
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    const rows = await this.db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
    return { keys: rows.map((r) => r.publicJwk) };
  }
}
