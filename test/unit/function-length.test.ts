/**
 * The project keeps every function in src/ short enough to read at once (about 60 lines): this
 * lists any function, method or arrow function that runs past that, longest first, so a new one
 * fails here with its place rather than in a review.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIMIT = 60;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function nameOf(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) return parent.name.getText();
  return ts.isConstructorDeclaration(node) ? 'constructor' : '(anonymous)';
}

const isFunction = (node: ts.Node) =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node);

/** Every function in the folder longer than `limit` lines: `lines  file:line  name`, longest first. */
function longFunctions(dir: string, limit: number): string[] {
  const long: Array<{ lines: number; where: string }> = [];
  for (const file of tsFiles(dir)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (isFunction(node)) {
        const lines = source.getLineAndCharacterOfPosition(node.getEnd()).line - source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        if (lines > limit) long.push({ lines, where: `${relative(ROOT, file)}:${line}  ${nameOf(node)}` });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return long.sort((a, b) => b.lines - a.lines).map((f) => `${f.lines}  ${f.where}`);
}

it(`has no function in src/ over ${LIMIT} lines`, () => {
  expect(longFunctions(join(ROOT, 'src'), LIMIT)).toEqual([]);
});

it('finds a function that is too long', () => {
  expect(longFunctions(join(ROOT, 'src'), 10).length).toBeGreaterThan(0);
});
