import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Symmetric encryption for secrets at rest (AES-256-GCM), keyed by ENCRYPTION_KEY. */
export interface Sealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

/**
 * The encryption key: ENCRYPTION_KEY when given, else (outside production) a key generated on first
 * start and kept in DATA_DIR/secrets with owner-only permissions.
 */
export function loadEncryptionKey(cfg: { encryptionKey?: string; dataDir: string; nodeEnv: string }): Buffer {
  if (cfg.encryptionKey) return Buffer.from(cfg.encryptionKey, 'base64');
  if (cfg.nodeEnv === 'production') throw new Error('ENCRYPTION_KEY is required in production');
  const dir = path.join(cfg.dataDir, 'secrets');
  const file = path.join(dir, 'encryption.key');
  if (fs.existsSync(file)) {
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    return key;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // 'wx' fails if another process created the file in the meantime; then use theirs.
  try {
    fs.writeFileSync(file, key.toString('base64'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  }
}

/** AES-256-GCM sealing: `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed) {
      const [v, iv, tag, ct] = sealed.split('.');
      if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
