/**
 * docs/errors.md and the components' code lists say the same: every declared code is documented
 * under its component, every documented code is declared, no code is declared twice, and no
 * source (or OpenAPI description) uses a code that no component declares. Written with the code
 * lists: before them ~130 free-string codes were used, many in no doc, and `card-timeout` meant
 * two things.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORE_ERROR_CODES, EcashError, isEcashError } from '../../core/index.js';
import { FIRMWARE_ERROR_CODES } from '../../firmware-sim/index.js';
import { BANK_API_ERROR_CODES } from '../../host/bank-client/index.js';
import { BANK_ERROR_CODES } from '../../host/bank/index.js';
import { CLI_ERROR_CODES } from '../../host/cli/index.js';
import { DEMO_ERROR_CODES } from '../../host/demo/index.js';
import { LOAD_ERROR_CODES } from '../../host/load/index.js';
import { POS_ERROR_CODES } from '../../host/pos/index.js';
import { SIM_ERROR_CODES } from '../../host/sim/index.js';
import { WEB_ERROR_CODES } from '../../host/web/index.js';
import { BRIDGE_ERROR_CODES, CARD_ERROR_CODES } from '../../reader-bridge/index.js';
import { WIRE_ERROR_CODES } from '../../wire/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Each component's list, by the name docs/errors.md gives it in its section's heading. */
const LISTS: Record<string, readonly string[]> = {
  CORE_ERROR_CODES,
  WIRE_ERROR_CODES,
  FIRMWARE_ERROR_CODES,
  BRIDGE_ERROR_CODES,
  CARD_ERROR_CODES,
  BANK_API_ERROR_CODES,
  BANK_ERROR_CODES,
  POS_ERROR_CODES,
  LOAD_ERROR_CODES,
  SIM_ERROR_CODES,
  CLI_ERROR_CODES,
  WEB_ERROR_CODES,
  DEMO_ERROR_CODES,
};

const declared = new Set(Object.values(LISTS).flat());

/** The codes of each `## … (\`LIST\`, path)` section's table rows. */
function documented(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    const heading = /^## .*\(`([A-Z_]+)`/.exec(line);
    if (heading) {
      current = [];
      sections.set(heading[1]!, current);
      continue;
    }
    const row = /^\| `([a-z0-9-]+)` \|/.exec(line);
    if (row && current) current.push(row[1]!);
  }
  return sections;
}

/** Sites that name a code with a literal: constructors, the bridge's helper, matches, `code:` fields. */
const SITES = [
  /\bnew\s+(?:EcashError|BankError|Decline)(?:<[^>]*>)?\(\s*'([^']+)'/g,
  /\bbridgeError\(\s*'([^']+)'/g,
  /\bisEcashError\([^,()]+,\s*'([^']+)'/g,
  /\bcode\s*:\s*'([^']+)'/g,
  /\.code\s*[!=]==\s*'([^']+)'/g,
];
/**
 * Not ours: codes of other systems that sources compare with (PostgreSQL, SQLite, Node, fastify),
 * and `typeof x.code === 'string'`.
 */
const FOREIGN = /^(?:\d+|[A-Z][A-Z0-9_]*|string)$/;

function shippedSources(): string[] {
  return execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', 'core', 'wire', 'firmware-sim', 'reader-bridge', 'host'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter((f) => /\.(ts|js)$/.test(f));
}

describe('docs/errors.md', () => {
  it("documents each component's codes under its section, and nothing else", () => {
    const docs = documented();
    expect([...docs.keys()].sort()).toEqual(Object.keys(LISTS).sort());
    for (const [name, list] of Object.entries(LISTS)) {
      expect([...(docs.get(name) ?? [])].sort(), name).toEqual([...list].sort());
    }
  });

  it('has each code once, and each component declares its codes once', () => {
    const all = Object.values(LISTS).flat();
    const twice = all.filter((c, i) => all.indexOf(c) !== i);
    expect(twice).toEqual([]);
    const rows = [...documented().values()].flat();
    expect(rows.filter((c, i) => rows.indexOf(c) !== i)).toEqual([]);
  });

  it('lists every code the sources use with a literal', () => {
    const unknown: string[] = [];
    for (const file of shippedSources()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const site of SITES) {
        for (const m of text.matchAll(site)) {
          const code = m[1]!;
          if (!declared.has(code) && !FOREIGN.test(code)) unknown.push(`${file}: ${code}`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });

  it('lists every code the OpenAPI documents name in a description', () => {
    // Backticked words of the descriptions that are not codes: HTTP header names.
    const NOT_CODES = new Set(['retry-after']);
    const unknown: string[] = [];
    const visit = (file: string, v: unknown): void => {
      if (Array.isArray(v)) v.forEach((x) => visit(file, x));
      else if (typeof v === 'object' && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'description' && typeof x === 'string') {
            for (const m of x.matchAll(/`([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`/g)) {
              const word = m[1]!;
              if (word.includes('-') || declared.has(word)) {
                if (!declared.has(word) && !NOT_CODES.has(word)) unknown.push(`${file}: ${word}`);
              }
            }
          } else visit(file, x);
        }
      }
    };
    for (const name of ['bank', 'pos', 'sim']) {
      const file = `docs/openapi/${name}.json`;
      visit(file, JSON.parse(readFileSync(join(ROOT, file), 'utf8')));
    }
    expect(unknown).toEqual([]);
  });

  it('is backed by the compiler: an undeclared code does not typecheck (npm run typecheck checks these)', () => {
    // @ts-expect-error: no component declares 'no-such-code'
    const e = new EcashError('no-such-code', 'never thrown');
    // @ts-expect-error: isEcashError takes declared codes only
    expect(isEcashError(e, 'no-such-code')).toBe(true);
    expect(isEcashError(e, 'internal')).toBe(false);
  });

  it('is linked from the README and docs/conventions.md', () => {
    for (const file of ['README.md', 'docs/conventions.md']) {
      expect(readFileSync(join(ROOT, file), 'utf8'), file).toMatch(/errors\.md/);
    }
  });
});
