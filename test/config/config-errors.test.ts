import { parseConfig } from '../../shared/config';
import { BadRequestError, ConfigError, IntegrityError, TooManyRequestsError } from '../../shared/errors';
import { toErrorResponse } from '../../shared/http/error-response';

describe('parseConfig', () => {
  it('has defaults that serve the local repository on the local stage', () => {
    const config = parseConfig({}, '/srv/app');
    expect(config).toMatchObject({
      stage: 'local',
      repository: '/srv/app/model-repository',
      exposeInternals: true,
    });
  });

  it('never exposes internals outside the local stage', () => {
    expect(parseConfig({ MODELFLEET_STAGE: 'prod' }).exposeInternals).toBe(false);
  });

  it.each([
    ['MAX_BODY_BYTES', 'lots', 'MAX_BODY_BYTES: expected an integer, got "lots"'],
    ['DEPLOYMENT_TTL_SECONDS', '-1', 'DEPLOYMENT_TTL_SECONDS: must be between 0 and 3600, got -1'],
    ['MODELFLEET_STAGE', 'Prod!', 'MODELFLEET_STAGE: must be 1-32 lower-case letters'],
  ])('fails fast naming %s', (name, value, message) => {
    let error: unknown;
    try {
      parseConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toContain(message);
  });
});

describe('toErrorResponse', () => {
  it('maps each error class to its status and keeps headers such as Retry-After', () => {
    const response = toErrorResponse(new TooManyRequestsError('slow down', 2.2), { exposeInternals: false });
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('3');
    expect(JSON.parse(response.body as string)).toEqual({ error: 'slow down' });
    expect(toErrorResponse(new IntegrityError('bad'), { exposeInternals: false }).status).toBe(503);
  });

  it('hides unexpected errors and stacks outside local', () => {
    const response = toErrorResponse(new Error('secret path /etc/x'), {
      exposeInternals: false,
      requestId: 'r1',
    });
    expect(response.status).toBe(500);
    expect(response.body).not.toContain('secret');
    expect(JSON.parse(response.body as string)).toEqual({ error: 'internal error', id: 'r1' });
  });

  it('shows the chain on the local stage', () => {
    const err = new BadRequestError('bad', { cause: new Error('root cause') });
    const body = JSON.parse(toErrorResponse(err, { exposeInternals: true }).body as string);
    expect(body.detail.cause.message).toBe('root cause');
    expect(body.detail.stack).toContain('BadRequestError');
  });
});
