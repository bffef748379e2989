import { parseConfig } from '../../shared/config';
import { ConfigError, ForbiddenError } from '../../shared/errors';
import { corsHeaders, preflightResponse } from '../../shared/http/cors';

const request = (method: string, headers: Record<string, string>) => ({
  method,
  path: '/v2',
  query: {},
  headers,
});

describe('CORS_ORIGINS', () => {
  it('is off by default and reads a comma-separated list of origins or *', () => {
    expect(parseConfig({}).corsOrigins).toEqual([]);
    expect(parseConfig({ CORS_ORIGINS: ' https://a.test , http://localhost:3000 ' }).corsOrigins).toEqual([
      'https://a.test',
      'http://localhost:3000',
    ]);
    expect(parseConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it.each([
    ['https://a.test/app', /scheme, host and port only/],
    ['a.test', /is not an origin/],
    ['ftp://a.test', /is not an origin/],
    ['https://a.test/', /scheme, host and port only/],
  ])('refuses %s naming the variable', (value, message) => {
    const attempt = () => parseConfig({ CORS_ORIGINS: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^CORS_ORIGINS: /);
    expect(attempt).toThrow(message);
  });
});

describe('CORS decisions', () => {
  const origins = ['https://a.test'];

  it('adds headers only for a listed origin; * answers any origin without Vary', () => {
    expect(corsHeaders(origins, request('GET', { origin: 'https://a.test' }))).toMatchObject({
      'access-control-allow-origin': 'https://a.test',
      vary: 'Origin',
    });
    expect(corsHeaders(origins, request('GET', { origin: 'https://b.test' }))).toEqual({});
    expect(corsHeaders(origins, request('GET', {}))).toEqual({});
    expect(corsHeaders([], request('GET', { origin: 'https://a.test' }))).toEqual({});
    const any = corsHeaders(['*'], request('GET', { origin: 'https://b.test' }));
    expect(any['access-control-allow-origin']).toBe('*');
    expect(any).not.toHaveProperty('vary');
  });

  it('answers preflights only when CORS is on and the request is one', () => {
    const preflight = { origin: 'https://a.test', 'access-control-request-method': 'POST' };
    expect(preflightResponse([], request('OPTIONS', preflight))).toBeUndefined();
    expect(preflightResponse(origins, request('OPTIONS', { origin: 'https://a.test' }))).toBeUndefined();
    expect(preflightResponse(origins, request('POST', preflight))).toBeUndefined();
    expect(preflightResponse(origins, request('OPTIONS', preflight))?.status).toBe(204);
    expect(() =>
      preflightResponse(origins, request('OPTIONS', { ...preflight, origin: 'https://b.test' })),
    ).toThrow(ForbiddenError);
  });

  it('echoes well-formed requested headers and falls back to a default list otherwise', () => {
    const headers = (requested: string) =>
      preflightResponse(
        origins,
        request('OPTIONS', {
          origin: 'https://a.test',
          'access-control-request-method': 'POST',
          'access-control-request-headers': requested,
        }),
      )?.headers['access-control-allow-headers'];
    expect(headers('x-api-key, content-type')).toBe('x-api-key, content-type');
    expect(headers('bad header\r\nx: y')).toBe('authorization, content-type, x-api-key, x-request-id');
  });
});
