import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import path from 'node:path';
import { freePort } from '../support/emulators';
import { removeTempDirs, tempDir } from '../support/fixtures';
import { ROOT, runToEnd, type Started, startUntil } from '../support/processes';

/**
 * The README's quick-start commands, run as written on a copy of the tree (tracked and new files,
 * as a fresh clone would have them, with this checkout's node_modules): `npm start` and its curls,
 * `sls invoke local`, the Security quick-start and the CLI walk-through (`npm run demo`). Only
 * the port differs (8080 may be taken on a shared machine): PORT is set and the curls follow it.
 * Each command is looked up in README.md first, so an edit there that is not re-tested fails here.
 */
jest.setTimeout(420_000);
afterAll(removeTempDirs);

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function readme(command: string): string {
  expect(README).toContain(command);
  return command;
}

let tree: string;
let port: number;
let env: NodeJS.ProcessEnv;
const running: Started[] = [];

/** A README shell line, with the README's port replaced by this test's. */
function sh(command: string, extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 180_000) {
  return runToEnd(
    'bash',
    ['-c', command.replaceAll('8080', String(port))],
    { ...env, ...extraEnv },
    timeoutMs,
    tree,
  );
}

async function start(command: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Started> {
  const started = await startUntil(
    'bash',
    ['-c', command],
    { ...env, ...extraEnv },
    /modelfleet listening on http:\/\/127\.0\.0\.1:\d+/,
    300_000,
    tree,
  );
  running.push(started);
  return started;
}

function jsonOf(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}

beforeAll(async () => {
  tree = tempDir('modelfleet-readme-');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
  })
    .toString()
    .split('\0')
    .filter((file) => file !== '' && existsSync(path.join(ROOT, file)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
    copyFileSync(path.join(ROOT, file), path.join(tree, file));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: tree });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'fresh clone');
  port = await freePort();
  // What a new user's shell has: none of this project's settings (sls needs no real account).
  for (const name of ['MODEL_REPOSITORY', 'MODELFLEET_STAGE', 'API_KEYS', 'SAMPLES', 'HOST']) {
    expect({ [name]: process.env[name] }).toEqual({ [name]: undefined });
  }
  env = {
    PORT: String(port),
    SLS_TELEMETRY_DISABLED: '1',
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    AWS_ACCESS_KEY_ID: 'dummy-for-offline-use',
    AWS_SECRET_ACCESS_KEY: 'dummy-for-offline-use',
  };
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((started) => started.stop()));
});

describe('README quick-start, as written, on a fresh copy of the tree', () => {
  it('npm start creates ./model-repository with the samples and answers the README curls', async () => {
    await start(readme('npm ci && npm start').replace('npm ci && ', ''));
    // The build makes the CLI runnable: `npx modelfleet` executes the bin file itself, and in a
    // fresh clone nothing else sets its mode (npm ci ran before dist/ existed).
    expect(statSync(path.join(tree, 'dist', 'scripts', 'cli.js')).mode & 0o111).toBe(0o111);
    expect(readdirSync(path.join(tree, 'model-repository')).sort()).toEqual(['house-price', 'iris']);
    expect(readdirSync(path.join(tree, 'model-repository', 'iris', 'deployments')).sort()).toEqual([
      'dev.json',
      'local.json',
    ]);
    const infer = await sh(
      readme('curl -X POST 127.0.0.1:8080/v2/models/iris/infer -d @samples/iris/request.json'),
    );
    expect(jsonOf(infer.stdout)).toMatchObject({
      model_name: 'iris',
      model_version: '1',
      outputs: [
        { name: 'probabilities', shape: [2, 3] },
        { name: 'label', data: [0, 2] },
      ],
    });
    const metadata = await sh(readme('curl 127.0.0.1:8080/v2/models/house-price'));
    expect(jsonOf(metadata.stdout)).toMatchObject({ name: 'house-price' });

    // "Your own model": the other protocols' bodies and the binary client.
    const mlflowSplit = await sh(
      readme(`curl -X POST '127.0.0.1:8080/invocations?model=iris' -H 'content-type: application/json' \\
  -d '{"dataframe_split": {"columns": ["sepal_length","sepal_width","petal_length","petal_width"], "data": [[5.1,3.5,1.4,0.2]]}}'`),
    );
    expect(jsonOf(mlflowSplit.stdout)).toMatchObject({ predictions: { label: [0] } });
    const mlflowInstances = await sh(
      readme(`curl -X POST '127.0.0.1:8080/invocations?model=iris' -H 'content-type: application/json' \\
  -d '{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}'`),
    );
    expect(jsonOf(mlflowInstances.stdout)).toMatchObject({ predictions: { label: [0] } });
    const tfServing = await sh(
      readme(
        `curl -X POST '127.0.0.1:8080/v1/models/iris:predict' -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'`,
      ),
    );
    expect(jsonOf(tfServing.stdout)).toMatchObject({ predictions: [{ label: 0 }] });
    const binary = await sh(readme('node docs/binary-client.mjs http://127.0.0.1:8080/v2/models/iris/infer'));
    expect(jsonOf(binary.stdout)).toMatchObject({ name: 'probabilities', shape: [1, 3] });

    // A second start on the same port: one line naming it, and no recompilation of unchanged sources.
    const built = statSync(path.join(tree, 'dist', 'shared', 'app.js')).mtimeMs;
    const second = await sh('npm start --silent');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `modelfleet: port ${port} on 127.0.0.1 is already in use: stop the other server or set PORT (PORT=0 picks a free port)\n`,
    );
    expect(second.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
    expect(statSync(path.join(tree, 'dist', 'shared', 'app.js')).mtimeMs).toBe(built);
  });

  it('never seeds a repository the user names, and stops on one that does not exist', async () => {
    const named = tempDir('modelfleet-named-');
    const typo = await sh('node dist/scripts/serve.js', { MODEL_REPOSITORY: `${named}/typo` });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`MODEL_REPOSITORY: the repository folder ${named}/typo does not exist`);
    expect(existsSync(`${named}/typo`)).toBe(false);
    const started = await start('node dist/scripts/serve.js', {
      MODEL_REPOSITORY: named,
      MODELFLEET_STAGE: 'prod',
    });
    await started.stop();
    expect(readdirSync(named)).toEqual([]);
    const badPort = await sh('node dist/scripts/serve.js', { PORT: 'abc' });
    expect({ code: badPort.code, stderr: badPort.stderr }).toEqual({
      code: 1,
      stderr: 'modelfleet: PORT: expected an integer, got "abc"\n',
    });
  });

  it('sls invoke local with the README path answers 200 from the bundled ./model-repository', async () => {
    const { code, stdout, stderr } = await sh(
      readme('npx sls invoke local -f infer --path test/events/http-api-v2-infer.json'),
    );
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = jsonOf(stdout.slice(stdout.indexOf('\n{') + 1));
    expect(result['statusCode']).toBe(200);
    expect(jsonOf(String(result['body']))).toMatchObject({
      model_name: 'iris',
      outputs: [{}, { data: [0] }],
    });
  });

  it('"Your own model, end to end": package, publish, promote, npm start, curl', async () => {
    // The user's files: any ONNX model and a sample file (here, copies of the house-price sample).
    copyFileSync(path.join(tree, 'samples', 'house-price', 'model.onnx'), path.join(tree, 'my-model.onnx'));
    copyFileSync(path.join(tree, 'samples', 'house-price', 'sample.json'), path.join(tree, 'my-sample.json'));
    const packaged = await sh(
      readme('npx modelfleet package my-model.onnx --name my-model --sample my-sample.json'),
    );
    expect(packaged.stdout).toContain(`packaged my-model into ${tree}/model-packages/my-model`);
    const published = await sh(
      readme('npx modelfleet publish model-packages/my-model --promote --stage local'),
    );
    expect(published.stdout).toContain('published my-model version 1');
    await start(readme('npm start   '));
    const answer = await sh(
      readme('curl -X POST 127.0.0.1:8080/v2/models/my-model/infer -d @my-sample.json'),
    );
    expect(jsonOf(answer.stdout)).toMatchObject({ model_name: 'my-model', outputs: [{ name: 'price' }] });
    rmSync(path.join(tree, 'my-model.onnx'));
    rmSync(path.join(tree, 'my-sample.json'));
  });

  it('the Security quick-start: a new key, iris promoted on prod, a keyed curl answered', async () => {
    const made = await sh(readme('npx modelfleet new-key --name web --scopes predict'));
    const key = /key \(shown once, give it to the client\): (\S+)/.exec(made.stdout)?.[1] ?? '';
    const entry = /API_KEYS entry \(store this\): (\S+)/.exec(made.stdout)?.[1] ?? '';
    expect(entry).toMatch(/^web:predict:[0-9a-f]{64}$/);
    const promoted = await sh(readme('npx modelfleet promote iris 1 --stage prod'));
    expect(promoted.stdout).toContain('stage prod of iris now serves version 1 (100%)');
    await start(
      readme('MODELFLEET_STAGE=prod API_KEYS="web:predict:<sha256>" npm start').replace(
        'web:predict:<sha256>',
        entry,
      ),
    );
    const curl = readme(
      'curl -H "x-api-key: $KEY" -X POST 127.0.0.1:8080/v2/models/iris/infer -d @samples/iris/request.json',
    );
    expect(jsonOf((await sh(curl, { KEY: key })).stdout)).toMatchObject({ model_name: 'iris' });
    const denied = await sh(`${curl} -s -o /dev/null -w '%{http_code}'`, { KEY: 'wrong' });
    expect(denied.stdout).toBe('401');
  });

  it('npm run demo runs the CLI walk-through, then Biome finds nothing to lint and git status is clean', async () => {
    const demo = await sh(readme('npm run demo'));
    expect({ code: demo.code, stderr: demo.code === 0 ? '' : demo.stderr }).toEqual({ code: 0, stderr: '' });
    expect(demo.stdout).toContain('published iris version 4');
    expect(demo.stdout).toMatch(
      /^iris {3}1,2,3,4 {3}a=v2:50% b=v3:30% c=v4:20% {2}v4@20% {2}header:x-user-id$/m,
    );
    expect(demo.stdout).toMatch(/stage prod of iris: primary v2 100%\n/);
    // The README lines of the walk-through are the script's (one modelfleet command per line).
    const script = readFileSync(path.join(tree, 'docs', 'quickstart.sh'), 'utf8');
    const block = README.slice(README.indexOf('`npm run demo` runs this walk-through'));
    const shown = (block.split('```sh\n')[1] ?? '').split('```')[0] ?? '';
    for (const line of shown.split('\n').filter((l) => l.startsWith('modelfleet ') && !l.includes('$v'))) {
      expect(script).toContain(line);
    }

    const lint = await sh('npx biome check .');
    expect({ code: lint.code, output: lint.code === 0 ? '' : lint.stdout + lint.stderr }).toEqual({
      code: 0,
      output: '',
    });
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: tree }).toString();
    expect(status).toBe('');
  });
});
