import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpFunctionOptions } from '@azure/functions';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { hashApiKey } from '../../shared/security/api-keys';
import { removeTempDirs, sampleRepository } from '../support/fixtures';
import { ROOT } from '../support/processes';

afterAll(removeTempDirs);

describe('Azure entry point (functions/azure/index.ts)', () => {
  it('registers one anonymous catch-all HTTP trigger that serves the API from app settings', async () => {
    const repository = await sampleRepository();
    const all: { name: string; options: HttpFunctionOptions }[] = [];
    const timers: { name: string; schedule: string }[] = [];
    // Stand-in for the Functions host's registry (the host cannot run here): capture `app.http`.
    jest.doMock('@azure/functions', () => ({
      ...jest.requireActual('@azure/functions'),
      app: {
        http: (name: string, options: HttpFunctionOptions) => all.push({ name, options }),
        timer: (name: string, options: { schedule: string }) =>
          timers.push({ name, schedule: options.schedule }),
      },
    }));
    // dev denies by default: the app settings carry a key's hash, the request the key.
    const settings = {
      MODEL_REPOSITORY: repository.store.url,
      MODELFLEET_STAGE: 'dev',
      API_KEYS: `entry:predict:${hashApiKey('entry-point-key')}`,
    };
    const saved = { ...process.env };
    Object.assign(process.env, settings);
    try {
      jest.isolateModules(() => {
        require('../../functions/azure/index');
      });
    } finally {
      process.env = saved;
      jest.dontMock('@azure/functions');
    }
    // The rollout guard is an app of its own (functions/azure/guard.ts), with its own identity.
    expect(timers).toEqual([]);
    expect(all).toHaveLength(1);
    const [{ name, options }] = all as [{ name: string; options: HttpFunctionOptions }];
    expect(name).toBe('modelfleet');
    expect(options).toMatchObject({ route: '{*path}', authLevel: 'anonymous' });
    expect(options.methods).toEqual(expect.arrayContaining(['GET', 'POST', 'OPTIONS', 'DELETE']));
    const logged: string[] = [];
    const response = await options.handler(
      new HttpRequest({
        method: 'GET',
        url: 'http://127.0.0.1:7071/v2/models/iris',
        headers: { 'x-api-key': 'entry-point-key' },
      }),
      new InvocationContext({ functionName: name, logHandler: (_level, line) => logged.push(String(line)) }),
    );
    expect(response).toMatchObject({ status: 200, headers: { 'x-model-variant': 'primary' } });
    expect(JSON.parse(logged[0] ?? '{}')).toMatchObject({ properties: { model: 'iris', stage: 'dev' } });
  });

  it('the rollout guard app (functions/azure/guard.ts) registers a timer and a key-protected alert webhook', () => {
    const http: { name: string; options: HttpFunctionOptions }[] = [];
    const timers: { name: string; schedule: string }[] = [];
    jest.doMock('@azure/functions', () => ({
      ...jest.requireActual('@azure/functions'),
      app: {
        http: (name: string, options: HttpFunctionOptions) => http.push({ name, options }),
        timer: (name: string, options: { schedule: string }) =>
          timers.push({ name, schedule: options.schedule }),
      },
    }));
    try {
      jest.isolateModules(() => {
        require('../../functions/azure/guard');
      });
    } finally {
      jest.dontMock('@azure/functions');
    }
    expect(timers).toEqual([{ name: 'modelfleetGuard', schedule: '0 * * * * *' }]);
    expect(http.map((f) => f.name)).toEqual(['modelfleetGuardAlert']);
    expect(http[0]?.options).toMatchObject({ authLevel: 'function', methods: ['POST'] });
  });

  it('host.json serves routes without the /api prefix; package.json main points at the entry', () => {
    const host = JSON.parse(readFileSync(path.join(ROOT, 'host.json'), 'utf8'));
    expect(host.version).toBe('2.0');
    expect(host.extensions.http.routePrefix).toBe('');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('dist/functions/azure/index.js');
    expect(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')).toContain('functions');
  });
});
