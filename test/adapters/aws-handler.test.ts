import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { fromApiGatewayV2 } from '../../functions/aws/events';
import { createHandler } from '../../functions/aws/handler';
import { removeTempDirs, sampleApp } from '../support/fixtures';

afterAll(removeTempDirs);

const load = <T>(file: string): T =>
  JSON.parse(readFileSync(path.join(__dirname, '..', 'events', file), 'utf8'));
const context = {} as Context;

interface ProxyResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

describe('AWS Lambda handler', () => {
  it.each([
    ['API Gateway REST (v1)', 'api-gateway-v1-infer.json', 'v1-event'],
    ['HTTP API (v2)', 'http-api-v2-infer.json', 'v2-event'],
    ['Function URL (base64 body)', 'function-url-infer.json', 'url-event'],
  ])('serves a prediction for a %s event', async (_kind, file, requestId) => {
    const { app } = await sampleApp();
    const handler = createHandler(app);
    const result = (await handler(load(file), context)) as ProxyResult;
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers).toMatchObject({
      'content-type': 'application/json',
      'x-request-id': requestId,
      'x-model-version': '1',
    });
    const body = JSON.parse(result.body);
    expect(body.outputs[1]).toEqual({ name: 'label', datatype: 'INT64', shape: [1], data: [0] });
  });

  it('returns the core error response for a bad request', async () => {
    const { app } = await sampleApp({ exposeInternals: false });
    const event = load<APIGatewayProxyEvent>('api-gateway-v1-infer.json');
    const result = (await createHandler(app)({ ...event, body: '{"inputs": 3}' }, context)) as ProxyResult;
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toEqual({
      error: 'inputs: expected an array of tensors, got number',
      id: 'v1-event',
    });
  });

  it('strips a named HTTP API stage from rawPath and reads the query string', () => {
    const event = load<APIGatewayProxyEventV2>('http-api-v2-infer.json');
    const request = fromApiGatewayV2({
      ...event,
      rawPath: '/prod/v2/models/iris/infer',
      rawQueryString: 'a=1&b=two',
      requestContext: { ...event.requestContext, stage: 'prod' },
    });
    expect(request).toMatchObject({
      path: '/v2/models/iris/infer',
      query: { a: '1', b: 'two' },
      method: 'POST',
    });
  });
});
