import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// The core's rooms, lowest first. A file may import from its own room or a lower one, never a
// higher one, and the file graph has no cycles: together these keep each room usable without the
// ones above it (the pre-traffic hook without onnxruntime, the CLI without the HTTP layer).
const RANKS: Record<string, number> = {
  'errors.ts': 0,
  tensor: 1,
  telemetry: 1,
  store: 1,
  http: 2,
  repository: 2,
  security: 3,
  traffic: 3,
  protocol: 4,
  serving: 5,
  control: 6,
  // Streamed records (shared/records/): the data plane and the protocol parsers, like control/.
  records: 6,
  batch: 6,
  // The wiring (app, boot) and the one env reader (config/).
  'app.ts': 7,
  'boot.ts': 7,
  config: 7,
};

const SHARED = path.resolve(__dirname, '../../shared');
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|require\('(\.[^']+)'\)|import\('(\.[^']+)'\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function resolveImport(from: string, spec: string, known: Set<string>): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (known.has(candidate)) return candidate;
  }
  throw new Error(`${path.relative(SHARED, from)} imports ${spec}, which is not a file in shared/`);
}

function roomOf(file: string): string {
  return path.relative(SHARED, file).split(path.sep)[0] ?? '';
}

function importGraph(): Map<string, string[]> {
  const files = sourceFiles(SHARED);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (spec !== undefined) targets.push(resolveImport(file, spec, known));
    }
    graph.set(file, targets);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

const short = (file: string): string => path.relative(SHARED, file);

describe('the import graph of shared/', () => {
  const graph = importGraph();

  it('puts every file in a room with a rank', () => {
    const unranked = [...graph.keys()].filter((file) => RANKS[roomOf(file)] === undefined).map(short);
    expect(unranked).toEqual([]);
  });

  it('has no cycles', () => {
    expect(cycles(graph).map((cycle) => cycle.map(short).join(' → '))).toEqual([]);
  });

  it('never imports from a higher room into a lower one', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const rank = RANKS[roomOf(file)] ?? -1;
      for (const target of targets) {
        if ((RANKS[roomOf(target)] ?? -1) > rank) upward.push(`${short(file)} → ${short(target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps cloud SDKs in the store drivers', () => {
    const sdk = /from '(@aws-sdk|@azure|@google-cloud)\//;
    const outside = [...graph.keys()]
      .filter((file) => roomOf(file) !== 'store' && sdk.test(readFileSync(file, 'utf8')))
      .map(short);
    expect(outside).toEqual([]);
  });
});
