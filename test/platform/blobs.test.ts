import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlobNotFoundError, LocalBlobStore, blobKey, createBlobStore, type BlobStore } from '../../src/platform/blobs/blobs.ts';
import { S3BlobStore, type S3BlobConfig } from '../../src/platform/blobs/s3.ts';
import { startS3Double } from '../doubles/s3.ts';

const ORG = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const SECRET = 'test-secret-access-key';

let double: Awaited<ReturnType<typeof startS3Double>>;
let dir: string;
beforeAll(async () => {
  double = await startS3Double({ bucket: 'tadween-blobs', accessKeyId: 'TESTKEYID', secretAccessKey: SECRET });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tadween-blobs-'));
});
afterAll(async () => {
  await double?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  double.objects.clear();
  double.requests.length = 0;
  delete double.behaviour.delayMs;
});

const s3Config = (over: Partial<S3BlobConfig> = {}): S3BlobConfig => ({
  endpoint: double.url,
  bucket: 'tadween-blobs',
  accessKeyId: 'TESTKEYID',
  secretAccessKey: SECRET,
  region: 'us-east-1',
  ...over,
});

const stores: Array<[string, () => BlobStore]> = [
  ['LocalBlobStore', () => new LocalBlobStore(dir)],
  ['S3BlobStore', () => new S3BlobStore(s3Config())],
];

describe.each(stores)('%s', (_name, make) => {
  it('round-trips bytes under a content-addressed key, and deletes them', async () => {
    const store = make();
    const bytes = new Uint8Array([0, 1, 2, 250, 255, ...Buffer.from('مرحبا')]);
    const key = blobKey(ORG, bytes, 'pdf');
    await store.put(key, bytes);
    const got = await store.get(key);
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(got.equals(Buffer.from(bytes))).toBe(true);

    await store.put(key, bytes); // re-uploading the same content is harmless
    await store.delete(key);
    await expect(store.get(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    await store.delete(key); // already gone: not an error
  });

  it('survives concurrent uploads of the same content', async () => {
    const store = make();
    const bytes = Buffer.from('same file uploaded twice at once');
    const key = blobKey(ORG, bytes, 'txt');
    await Promise.all([store.put(key, bytes), store.put(key, bytes), store.put(key, bytes)]);
    expect((await store.get(key)).equals(bytes)).toBe(true);
  });

  it('stores an empty blob', async () => {
    const store = make();
    const key = blobKey(ORG, new Uint8Array(), 'bin');
    await store.put(key, new Uint8Array());
    expect((await store.get(key)).length).toBe(0);
  });

  it('throws BlobNotFoundError for a missing key', async () => {
    const store = make();
    const err = await store.get(`${ORG}/${'0'.repeat(64)}.pdf`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobNotFoundError);
    expect((err as BlobNotFoundError).key).toBe(`${ORG}/${'0'.repeat(64)}.pdf`);
  });

  it.each(['../x', 'a/../../x', 'a b', 'a\\b', ''])('refuses the invalid key %j on every operation', async (key) => {
    const store = make();
    await expect(store.put(key, Buffer.from('x'))).rejects.toThrow('invalid blob key');
    await expect(store.get(key)).rejects.toThrow('invalid blob key');
    await expect(store.delete(key)).rejects.toThrow('invalid blob key');
  });
});

describe('LocalBlobStore', () => {
  it('keeps blobs inside its directory and leaves no temporary files', async () => {
    const store = new LocalBlobStore(dir);
    const bytes = Buffer.from('on disk');
    const key = blobKey(ORG, bytes, 'txt');
    await store.put(key, bytes);
    expect((await fs.readFile(path.join(dir, key))).equals(bytes)).toBe(true);
    expect((await fs.readdir(path.join(dir, ORG))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await fs.writeFile(path.join(dir, 'a-file'), 'x');
    await expect(store.get('a-file/below')).rejects.toBeInstanceOf(BlobNotFoundError); // ENOTDIR
  });
});

describe('S3BlobStore against the S3 double', () => {
  it('sends signed, path-style requests with plain bodies', async () => {
    const store = new S3BlobStore(s3Config());
    const bytes = Buffer.from('plain body please');
    const key = blobKey(ORG, bytes, 'txt');
    await store.put(key, bytes);
    expect(double.objects.get(key)?.equals(bytes)).toBe(true);

    const put = double.requests.find((r) => r.method === 'PUT');
    expect(put?.path).toBe(`/tadween-blobs/${key}`);
    expect(put?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=TESTKEYID\/\d{8}\/us-east-1\/s3\/aws4_request,/);
    expect(put?.headers.authorization).not.toContain(SECRET);
    // WHEN_REQUIRED: no flexible-checksum headers and no aws-chunked framing, just the bytes with a signed SHA-256.
    expect(put?.headers['content-encoding']).toBeUndefined();
    expect(put?.headers['x-amz-sdk-checksum-algorithm']).toBeUndefined();
    expect(Object.keys(put?.headers ?? {}).filter((h) => h.startsWith('x-amz-checksum'))).toEqual([]);
    expect(put?.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(put?.raw.equals(bytes)).toBe(true);

    await store.get(key);
    expect(double.requests.find((r) => r.method === 'GET')?.headers['x-amz-checksum-mode']).toBeUndefined();
  });

  it('fails fast on a wrong access key id or secret', async () => {
    const bytes = Buffer.from('x');
    const key = blobKey(ORG, bytes, 'txt');
    const started = Date.now();
    await expect(new S3BlobStore(s3Config({ accessKeyId: 'WRONGKEY' })).put(key, bytes)).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(new S3BlobStore(s3Config({ secretAccessKey: 'wrong-secret' })).get(key)).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(double.objects.size).toBe(0);
  });

  it('reports a wrong bucket as NoSuchBucket, not as a missing blob', async () => {
    const err = await new S3BlobStore(s3Config({ bucket: 'other-bucket' })).get(`${ORG}/a.txt`).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(BlobNotFoundError);
    expect(err).toMatchObject({ name: 'NoSuchBucket' });
  });

  it('gives up on a server that does not answer, after its timeout', async () => {
    double.behaviour.delayMs = 3_000;
    const store = new S3BlobStore(s3Config(), { timeoutMs: 200 });
    const started = Date.now();
    await expect(store.get(`${ORG}/slow.txt`)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('does not reveal the secret when the store is inspected or serialised', async () => {
    const store = new S3BlobStore(s3Config());
    const { inspect } = await import('node:util');
    expect(inspect(store, { depth: 10 })).not.toContain(SECRET);
    expect(JSON.stringify(store)).not.toContain(SECRET);
  });
});

describe('the S3 double', () => {
  it('decodes aws-chunked uploads, as the SDK sends a stream with its default checksums', async () => {
    const client = new S3Client({
      endpoint: double.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'TESTKEYID', secretAccessKey: SECRET },
    });
    await client.send(
      new PutObjectCommand({ Bucket: 'tadween-blobs', Key: 'chunked.txt', Body: Readable.from([Buffer.from('hello '), Buffer.from('chunks')]), ContentLength: 12 }),
    );
    const put = double.requests.find((r) => r.method === 'PUT');
    expect(put?.headers['content-encoding']).toBe('aws-chunked');
    expect(put?.headers['x-amz-content-sha256']).toMatch(/^STREAMING-/);
    expect(double.objects.get('chunked.txt')?.toString()).toBe('hello chunks');
    client.destroy();
  });
});

describe('createBlobStore', () => {
  it('picks a local store for a directory and an S3 store for a bucket', async () => {
    const local = await createBlobStore({ dir });
    expect(local).toBeInstanceOf(LocalBlobStore);
    const s3 = await createBlobStore({ s3: s3Config() });
    expect(s3).toBeInstanceOf(S3BlobStore);

    const bytes = Buffer.from('through the factory');
    const key = blobKey(ORG, bytes, 'txt');
    await s3.put(key, bytes);
    expect(double.objects.has(key)).toBe(true);
    await local.put(key, bytes);
    expect((await fs.readFile(path.join(dir, key))).equals(bytes)).toBe(true);
  });
});

describe('blobKey', () => {
  it('is the organisation and the SHA-256 of the content, with a sanitised extension', () => {
    const a = Buffer.from('alpha');
    const key = blobKey(ORG, a, 'pdf');
    expect(key).toBe(`${ORG}/8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8.pdf`);
    expect(blobKey(ORG, Buffer.from('alpha'), 'pdf')).toBe(key);
    expect(blobKey(ORG, Buffer.from('beta'), 'pdf')).not.toBe(key);
    expect(blobKey('0190a1b2-0000-7000-8000-000000000000', a, 'pdf')).not.toBe(key);
    expect(blobKey(ORG, a, '../.P D F')).toMatch(/\.PDF$/);
    expect(blobKey(ORG, a, '')).toMatch(/\.bin$/);
    expect(blobKey(ORG, a, 'averyverylongextension')).toMatch(/\.averyveryl$/);
  });
});
