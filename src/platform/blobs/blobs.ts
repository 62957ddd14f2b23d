import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.ts';

/** Where uploaded originals are kept, so callers never care whether that is a directory or a bucket. */
export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Throws BlobNotFoundError when nothing is stored under the key. */
  get(key: string): Promise<Buffer>;
  /** A key that is already gone is not an error, so cleanup can simply be retried. */
  delete(key: string): Promise<void>;
}

/** Lets callers tell a missing blob (answer 404) from a storage failure (retry, 500) whichever store is behind. */
export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

/** One key rule for every store, so a key valid in a bucket is valid on disk too, where it must never escape the directory. */
export function assertBlobKey(key: string): void {
  if (!/^[A-Za-z0-9/_.-]+$/.test(key) || key.includes('..')) throw new Error('invalid blob key');
}

const isMissing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException | undefined)?.code ?? '');

/** Blobs as files under a directory (DATA_DIR/blobs by default), for the embedded tier and single-node servers. */
export class LocalBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    assertBlobKey(key);
    return path.join(this.dir, key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const f = this.file(key);
    await fs.mkdir(path.dirname(f), { recursive: true });
    // Unique per write: two concurrent uploads of the same content share a key, and must not share a temporary file.
    const tmp = `${f}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, f);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async get(key: string): Promise<Buffer> {
    const f = this.file(key);
    try {
      return await fs.readFile(f);
    } catch (e) {
      if (isMissing(e)) throw new BlobNotFoundError(key);
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }
}

/**
 * Picks the store from configuration so modules never branch on the deployment themselves. The S3 client
 * is loaded only when a bucket is configured: the embedded tier does not pay for it at start-up.
 */
export async function createBlobStore(blobs: Config['blobs']): Promise<BlobStore> {
  if ('dir' in blobs) return new LocalBlobStore(blobs.dir);
  const { S3BlobStore } = await import('./s3.ts');
  return new S3BlobStore(blobs.s3);
}

/** Content-addressed, so re-uploading the same file reuses its blob and a key can never point at other bytes. */
export function blobKey(orgId: string, bytes: Uint8Array, ext: string): string {
  return `${orgId}/${createHash('sha256').update(bytes).digest('hex')}.${ext.replace(/[^a-z0-9]/gi, '').slice(0, 10) || 'bin'}`;
}
