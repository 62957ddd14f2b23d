import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Where uploaded originals are kept. */
export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer>;
}

/** Blobs as files under a directory (DATA_DIR/blobs by default); keys never escape it. */
export class LocalBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    if (!/^[A-Za-z0-9/_.-]+$/.test(key) || key.includes('..')) throw new Error('invalid blob key');
    return path.join(this.dir, key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const f = this.file(key);
    await fs.mkdir(path.dirname(f), { recursive: true });
    const tmp = `${f}.${process.pid}.tmp`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, f);
  }

  async get(key: string): Promise<Buffer> {
    return fs.readFile(this.file(key));
  }
}

/** A content-addressed key for an organisation's upload. */
export function blobKey(orgId: string, bytes: Uint8Array, ext: string): string {
  return `${orgId}/${createHash('sha256').update(bytes).digest('hex')}.${ext.replace(/[^a-z0-9]/gi, '').slice(0, 10) || 'bin'}`;
}
