import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * FAKES of the three cloud metric query APIs the rollout guard reads, answering with the real
 * APIs' JSON shapes: CloudWatch GetMetricData (AWS JSON 1.0), Cloud Monitoring timeSeries.list
 * (v3 REST) and Azure Monitor Log Analytics query (v1). They record every request so tests check
 * what each source asks; what they answer is set by the test. Not substitutes for the services.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeApi {
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeApi(
  answer: (request: RecordedRequest) => { status: number; body: unknown },
): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      let reply: { status: number; body: unknown };
      try {
        reply = answer(recorded);
      } catch (err) {
        reply = { status: 400, body: { message: (err as Error).message } };
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** CloudWatch: values per `${variant}/${version}/${MetricName}/${Stat}`; absent → no datapoints. */
export function cloudWatchAnswer(values: Record<string, number[]>) {
  return (request: RecordedRequest) => {
    if (request.headers['x-amz-target'] !== 'GraniteServiceVersion20100801.GetMetricData') {
      return { status: 400, body: { __type: 'UnknownOperationException' } };
    }
    if (
      !/^AWS4-HMAC-SHA256 Credential=\w+\/\d{8}\/[\w-]+\/monitoring\/aws4_request, SignedHeaders=[\w;-]+, Signature=[0-9a-f]{64}$/.test(
        String(request.headers.authorization),
      )
    ) {
      return { status: 403, body: { __type: 'MissingAuthenticationTokenException' } };
    }
    const body = JSON.parse(request.body) as {
      MetricDataQueries: {
        Id: string;
        MetricStat: {
          Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] };
          Stat: string;
        };
      }[];
    };
    const results = body.MetricDataQueries.map((q) => {
      const dim = (name: string) => q.MetricStat.Metric.Dimensions.find((d) => d.Name === name)?.Value;
      const found =
        values[
          `${dim('variant')}/${dim('version')}/${q.MetricStat.Metric.MetricName}/${q.MetricStat.Stat}`
        ] ?? [];
      return {
        Id: q.Id,
        Label: q.MetricStat.Metric.MetricName,
        Timestamps: found.map((_, i) => 1_777_000_000 + i * 60),
        Values: found,
        StatusCode: 'Complete',
      };
    });
    return { status: 200, body: { MetricDataResults: results, Messages: [] } };
  };
}
