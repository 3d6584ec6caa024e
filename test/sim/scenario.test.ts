/**
 * Scenario files are validated whole at the edge, before any step runs: each malformed document
 * is refused with `bad-scenario` and the place of its first problem; docs/sim's example passes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario, readScenario } from '../../host/sim/index.js';

const refusal = (doc: unknown): string => {
  try {
    parseScenario(doc);
  } catch (e) {
    const err = e as { code: string; message: string };
    return `${err.code}: ${err.message}`;
  }
  return 'accepted';
};

describe('scenario files', () => {
  it('accepts the example in docs/sim', () => {
    const scenario = readScenario('docs/sim/example-scenario.json');
    expect(scenario.steps.map((s) => s.op)).toContain('settle');
  });

  it('takes the unknown-key card', () => {
    const steps = [
      { op: 'create', card: 'stranger', kind: 'unknown-key', load: 200 },
      { op: 'insert', card: 'stranger', reader: 'Sim 0' },
      { op: 'pay', amount: 200, expect: 'declined', reason: 'insufficient-funds' },
    ];
    expect(parseScenario({ steps }).steps[0]).toMatchObject({ op: 'create', kind: 'unknown-key' });
  });

  it.each([
    [[], 'the document must be a JSON object'],
    [{}, 'steps must be a list'],
    [{ steps: [] }, 'steps must be a list of 1 to 1000 steps'],
    [{ steps: [{ op: 'dance' }] }, 'steps[0].op must be one of'],
    [{ steps: ['pay'] }, 'steps[0] must be an object'],
    [{ steps: [{ op: 'pay' }] }, 'steps[0].amount is required'],
    [{ steps: [{ op: 'pay', amount: 0 }] }, 'steps[0].amount must be a whole number'],
    [{ steps: [{ op: 'pay', amount: '12' }] }, 'steps[0].amount must be a whole number'],
    [{ steps: [{ op: 'pay', amount: 5, colour: 'red' }] }, 'steps[0].colour is not a field of "pay"'],
    [{ steps: [{ op: 'insert', card: 'alice', reader: 'Sim 0' }] }, 'which no earlier step makes'],
    [
      {
        steps: [
          { op: 'create', card: 'a' },
          { op: 'create', card: 'a' },
        ],
      },
      'steps[1].card names card "a", made by an earlier step',
    ],
    [{ steps: [{ op: 'create', card: 'a', kind: 'gold' }] }, 'steps[0].kind must be one of standard'],
    [{ steps: [{ op: 'create', card: 'a', profile: 'fast' }] }, 'steps[0].profile must be one of jcop4'],
    [{ steps: [{ op: 'create', card: 'a', pin: '12' }] }, 'steps[0].pin must be 4 to 12 digits'],
    [{ steps: [{ op: 'expect', state: 'approved' }] }, 'a "pay" step must come first'],
    [{ steps: [{ op: 'pin', pin: '1234' }] }, 'a "pay" step must come first'],
    [{ steps: [{ op: 'pull', reader: 'Sim 0', afterApdus: 2, during: 'pay' }] }, 'gives afterApdus and during'],
    [{ steps: [{ op: 'pay', amount: 5, expect: 'Approved!' }] }, 'steps[0].expect must be a kebab-case'],
    [{ steps: [{ op: 'settle' }], extra: 1 }, 'extra is not a scenario field'],
  ])('refuses %j', (doc, why) => {
    const answer = refusal(doc);
    expect(answer).toMatch(/^bad-scenario: /);
    expect(answer).toContain(why);
  });

  it('refuses a file that is missing or not JSON, with its own codes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecash-scenario-'));
    try {
      expect(() => readScenario(join(dir, 'none.json'))).toThrow(expect.objectContaining({ code: 'scenario-unreadable' }));
      writeFileSync(join(dir, 'broken.json'), '{"steps": [');
      expect(() => readScenario(join(dir, 'broken.json'))).toThrow(expect.objectContaining({ code: 'bad-scenario' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
