/**
 * modelfleet's AWS handler from a cold process on a folder repository (MODEL_REPOSITORY): module
 * load (which loads onnxruntime-node), then the first request (deployment, manifest, artifact,
 * sha256, session, run). Its EMF metric output is captured and dropped.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

const t0 = performance.now();

async function main(): Promise<void> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  const { handler } = require('../../functions/aws/handler') as typeof import('../../functions/aws/handler');
  const moduleLoad = performance.now();
  const event = {
    version: '2.0',
    rawPath: `/v2/models/${process.env['BENCH_MODEL']}/infer`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' }, stage: '$default' },
    body: process.env['BENCH_BODY'],
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  const result = (await handler(event, {} as Context)) as { statusCode: number };
  const done = performance.now();
  process.stdout.write = write;
  if (result.statusCode !== 200) throw new Error(`first request: ${JSON.stringify(result)}`);
  process.stdout.write(
    `${JSON.stringify({
      startup: t0,
      moduleLoad: moduleLoad - t0,
      firstRequest: done - moduleLoad,
    })}\n`,
  );
}

void main();
