/**
 * The naive function's S3 read, through the SDK as a hand-written function would do it (modelfleet's
 * own rows use its S3 driver). Endpoint and bucket come from BENCH_S3_ENDPOINT / BENCH_S3_BUCKET.
 */
import type { S3Client } from '@aws-sdk/client-s3';

export function s3Client(): S3Client {
  // Required here, not imported at the top, so callers decide when the SDK's load time is paid.
  const { S3Client: Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  return new Client({
    endpoint: process.env['BENCH_S3_ENDPOINT'] ?? '',
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

export async function getObject(client: S3Client, key: string): Promise<Uint8Array> {
  const { GetObjectCommand } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const result = await client.send(
    new GetObjectCommand({ Bucket: process.env['BENCH_S3_BUCKET'], Key: key }),
  );
  if (result.Body === undefined) throw new Error(`${key}: empty body`);
  return result.Body.transformToByteArray();
}
