/**
 * The repository's docs stand alone: a clone holds no design notes from outside it, so no doc,
 * source or test may cite them (docs/protocol.md is the specification), and every repository path
 * a doc cites exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
// Spelled in pieces so this file does not cite them itself.
const OUTSIDE = ['..' + '/shared', 'DESIGN' + '.md', 'SCHEME' + '.md'];

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)) && !/\.(json|db|card)$/.test(f) && !f.startsWith('test/vectors/'));
}

const docs = (): string[] => trackedFiles().filter((f) => f.endsWith('.md'));

describe('the docs stand alone', () => {
  it('no doc, source or test cites the design notes outside the repository', () => {
    const hits: string[] = [];
    for (const file of trackedFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      text.split('\n').forEach((line, i) => {
        for (const name of OUTSIDE) if (line.includes(name)) hits.push(`${file}:${i + 1}: ${name}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('every repository path a doc cites exists', () => {
    const missing: string[] = [];
    const top = /^(core|wire|firmware-sim|reader-bridge|host|test|bench|docs|scripts|bin)\/[\w./-]*$/;
    for (const file of docs()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const cited = [...text.matchAll(/`([^`\s]+)`/g)]
        .map((m) => m[1]!)
        .concat([...text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)].map((m) => join(file, '..', m[1]!)));
      for (const path of cited) {
        if (!top.test(path) || /[<*…]/.test(path)) continue;
        if (!existsSync(join(ROOT, path))) missing.push(`${file}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
