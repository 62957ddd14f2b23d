import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Config } from '../../config.ts';
import { assertBlobKey, BlobNotFoundError, type BlobStore } from './blobs.ts';

/** The S3 half of Config['blobs'], named so callers and tests need not spell out the union. */
export type S3BlobConfig = Extract<Config['blobs'], { s3: unknown }>['s3'];

/** Tuning that deployments rarely change but tests must (a short timeout to prove a stalled server fails). */
export interface S3BlobStoreOptions {
  /** Longest wait for a response, and longest silence on the socket, in ms (default 120000, sized for large uploads). */
  timeoutMs?: number;
}

/** Blobs in any S3-compatible bucket (AWS, MinIO, Ceph, R2, Garage), so several server-tier nodes share one store. */
export class S3BlobStore implements BlobStore {
  // A true private field: the client holds the credentials, and must not surface when a store is logged or inspected.
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(config: S3BlobConfig, options: S3BlobStoreOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 120_000;
    this.#bucket = config.bucket;
    this.#client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      // Static credentials only: never fall back to the AWS default chain (environment, ~/.aws, instance metadata).
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      // `endpoint/bucket/key` rather than `bucket.endpoint/key`: every S3-compatible server accepts it, without wildcard DNS.
      forcePathStyle: true,
      // Since 3.729 the SDK adds CRC32 headers to every PutObject (`x-amz-sdk-checksum-algorithm`, `x-amz-checksum-crc32`;
      // for a stream body it even switches to `aws-chunked` with a trailer) and asks for checksums on GET
      // (`x-amz-checksum-mode`). Several S3-compatible servers reject those headers or return checksums the SDK then
      // fails to validate. With WHEN_REQUIRED a Buffer upload is a plain body whose SHA-256 is signed
      // (`x-amz-content-sha256`) and checked by the server, so integrity in transit is still covered.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: Math.min(timeoutMs, 10_000),
        requestTimeout: timeoutMs,
        // Without this the SDK only logs a warning when requestTimeout passes, and the request goes on waiting.
        throwOnRequestTimeout: true,
        // Also covers a response body that stops arriving, which requestTimeout (cleared at the headers) does not.
        socketTimeout: timeoutMs,
      },
    });
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    assertBlobKey(key);
    await this.#client.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: 'application/octet-stream' }),
    );
  }

  async get(key: string): Promise<Buffer> {
    assertBlobKey(key);
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      if (!res.Body) return Buffer.alloc(0);
      const bytes = await res.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (e) {
      // NoSuchBucket is also a 404, but it is a configuration error, not a missing blob.
      if (e instanceof S3ServiceException && e.name === 'NoSuchKey') throw new BlobNotFoundError(key);
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    // S3 answers 204 for a key that does not exist, which is what BlobStore.delete promises.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }
}
