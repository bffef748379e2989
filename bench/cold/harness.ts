/** What the cold-start runners of modelfleet's handler share: output capture and the first request. */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

interface PreloadLine {
  ms: number;
  phases?: Record<string, { fetchMs: number; verifyMs: number; sessionMs: number; warmUpMs: number }>;
}

/**
 * Drops metric lines (stdout) until `restore`, and takes the preload's duration and per-version
 * phases from its log line (stderr), passing other stderr through.
 */
export function captureOutput(): { preload: () => PreloadLine | undefined; restore: () => void } {
  let preload: PreloadLine | undefined;
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    const text = String(chunk);
    if (text.includes('"message":"preload finished"')) preload = JSON.parse(text) as PreloadLine;
    else writeErr(text);
    return true;
  }) as typeof process.stderr.write;
  return {
    preload: () => preload,
    restore: () => {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    },
  };
}

/** The preload's total and the phases of the bench model's version, for the report line. */
export function preloadPhases(line: PreloadLine | undefined): Record<string, number> {
  const phases = line?.phases?.[`${process.env['BENCH_MODEL']}@1`];
  return {
    preload: line?.ms ?? Number.NaN,
    ...(phases === undefined
      ? {}
      : {
          fetch: phases.fetchMs,
          verify: phases.verifyMs,
          session: phases.sessionMs,
          warmUp: phases.warmUpMs,
        }),
  };
}

/** The first prediction, as an HTTP API (v2) event built from BENCH_MODEL / BENCH_BODY / BENCH_API_KEY. */
export async function firstPrediction(handler: Handler): Promise<void> {
  const event = {
    version: '2.0',
    rawPath: `/v2/models/${process.env['BENCH_MODEL']}/infer`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'x-api-key': process.env['BENCH_API_KEY'] },
    requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' }, stage: '$default' },
    body: process.env['BENCH_BODY'],
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  const result = (await handler(event, {} as Context)) as { statusCode: number };
  if (result.statusCode !== 200) throw new Error(`first request: ${JSON.stringify(result)}`);
}

/** The line the parent reads: `startup` first (bench/cold-start.ts looks for it). */
export function report(phases: Record<string, number>): void {
  process.stdout.write(`${JSON.stringify(phases)}\n`);
}
