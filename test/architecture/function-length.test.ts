import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// Long functions hide the request path from readers and tools; past ~80 lines a function is
// doing several things and should name them. Counted from the first to the last line of the body.
const MAX_LINES = 80;
const ROOTS = ['shared', 'functions'].map((dir) => path.resolve(__dirname, '../..', dir));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function longFunctions(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const body = node.body as ts.Node;
      const lines = lineOf(body.getEnd()) - lineOf(body.getStart(source)) + 1;
      if (lines > MAX_LINES) {
        const name =
          'name' in node && node.name !== undefined ? (node.name as ts.Node).getText(source) : '(anonymous)';
        found.push(
          `${path.relative(path.resolve(__dirname, '../..'), file)}:${lineOf(node.getStart(source))} ${name} (${lines} lines)`,
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('functions in shared/ and functions/', () => {
  it(`are at most ${MAX_LINES} lines long`, () => {
    expect(ROOTS.flatMap(sourceFiles).flatMap(longFunctions)).toEqual([]);
  });
});
