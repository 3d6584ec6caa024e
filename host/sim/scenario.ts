/**
 * Scenario files for `ecash sim run` (docs/sim.md, "Scenarios"): a JSON list of steps — make a
 * card, insert it, pay, pull it mid-tap, put it back, enter the PIN, expect an outcome, settle —
 * played against a terminal's cash-register API (`ecash pos serve`) and the simulator's
 * test-helper API, so an integration suite in any language can drive the same story. The file is
 * validated whole before anything runs; a step that fails stops the run.
 */
import { readFileSync } from 'node:fs';
import { EcashError, type ErrorCode, SUITE_IDS, type SuiteId } from '../../core/index.js';
import { CHIP_PROFILES } from '../../firmware-sim/index.js';
import { CARD_KINDS, type CardKind } from './simulator.js';

export type ScenarioStep =
  | {
      op: 'create';
      card: string;
      kind?: CardKind;
      suite?: SuiteId;
      pin?: string;
      puk?: string;
      noPinLimit?: number;
      profile?: string;
      load?: number;
      currency?: string;
    }
  | { op: 'insert'; card: string; reader: string }
  | { op: 'pull'; reader: string; afterApdus?: number; during?: 'pay' }
  | { op: 'pay'; amount: number; currency?: string; reference?: string; expect?: string; reason?: string }
  | { op: 'expect'; state: string; reason?: string }
  | { op: 'pin'; pin: string }
  | { op: 'settle'; credited?: number; doubleSpends?: number };

export interface Scenario {
  description?: string;
  steps: ScenarioStep[];
}

export interface StepResult {
  step: number;
  op: ScenarioStep['op'];
  ok: boolean;
  detail: string;
  payment?: string;
}

type Fields = Record<string, unknown>;
type Check = (value: unknown) => string | undefined;

const integer =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `must be a whole number from ${min} to ${max}`;
const text =
  (re: RegExp, what: string): Check =>
  (v) =>
    typeof v === 'string' && re.test(v) ? undefined : `must be ${what}`;
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`;

const NAME = text(/^[A-Za-z0-9 ._-]{1,64}$/, 'a name of 1 to 64 letters, digits, spaces, dots, dashes or underscores');
const CODE = text(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'a kebab-case state or reason code');
const AMOUNT = integer(1, 1_000_000_000);

/** Each op's fields: required ones first in `required`, every allowed one in `fields`. */
const STEPS: Record<ScenarioStep['op'], { required: string[]; fields: Record<string, Check> }> = {
  create: {
    required: ['card'],
    fields: {
      card: NAME,
      kind: oneOf(CARD_KINDS),
      suite: oneOf(SUITE_IDS),
      pin: text(/^[0-9]{4,12}$/, '4 to 12 digits'),
      puk: text(/^[0-9]{8,16}$/, '8 to 16 digits'),
      noPinLimit: integer(0, 2_147_483_647),
      profile: oneOf(Object.keys(CHIP_PROFILES)),
      load: AMOUNT,
      currency: text(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
    },
  },
  insert: { required: ['card', 'reader'], fields: { card: NAME, reader: NAME } },
  pull: { required: ['reader'], fields: { reader: NAME, afterApdus: integer(0, 1000), during: oneOf(['pay']) } },
  pay: {
    required: ['amount'],
    fields: {
      amount: AMOUNT,
      currency: text(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
      reference: text(/^[^\u0000-\u001f\u007f]{0,64}$/, 'at most 64 printable characters'),
      expect: CODE,
      reason: CODE,
    },
  },
  expect: { required: ['state'], fields: { state: CODE, reason: CODE } },
  pin: { required: ['pin'], fields: { pin: text(/^[0-9]{4,12}$/, '4 to 12 digits') } },
  settle: { required: [], fields: { credited: integer(0, 1_000_000), doubleSpends: integer(0, 1_000_000) } },
};

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed scenario document, naming the first problem's place (`steps[2].amount`). */
export function parseScenario(doc: unknown, where = 'the scenario'): Scenario {
  const bad = (path: string, why: string): never => {
    throw new EcashError('bad-scenario', `${where}: ${path} ${why} (see docs/sim.md, "Scenarios")`);
  };
  if (!isObject(doc)) return bad('the document', 'must be a JSON object with "steps"');
  for (const k of Object.keys(doc)) if (k !== 'description' && k !== 'steps') bad(k, 'is not a scenario field (description, steps)');
  if (doc.description !== undefined && typeof doc.description !== 'string') bad('description', 'must be a string');
  if (!Array.isArray(doc.steps) || doc.steps.length === 0 || doc.steps.length > 1000)
    return bad('steps', 'must be a list of 1 to 1000 steps');
  const cards = new Set<string>();
  let paid = false;
  const steps = doc.steps.map((raw: unknown, i: number): ScenarioStep => {
    const at = `steps[${i}]`;
    if (!isObject(raw)) return bad(at, 'must be an object with an "op"');
    const spec = STEPS[raw.op as ScenarioStep['op']];
    if (typeof raw.op !== 'string' || spec === undefined) return bad(`${at}.op`, `must be one of ${Object.keys(STEPS).join(', ')}`);
    for (const [k, v] of Object.entries(raw)) {
      if (k === 'op') continue;
      const check = spec.fields[k];
      if (check === undefined) return bad(`${at}.${k}`, `is not a field of "${raw.op}" (${Object.keys(spec.fields).join(', ') || 'none'})`);
      const why = check(v);
      if (why !== undefined) bad(`${at}.${k}`, why);
    }
    for (const k of spec.required) if (raw[k] === undefined) bad(`${at}.${k}`, `is required for "${raw.op}"`);
    const step = raw as ScenarioStep;
    if (step.op === 'create') {
      if (cards.has(step.card)) bad(`${at}.card`, `names card "${step.card}", made by an earlier step`);
      cards.add(step.card);
    }
    if (step.op === 'insert' && !cards.has(step.card)) bad(`${at}.card`, `names card "${step.card}", which no earlier step makes`);
    if (step.op === 'pull' && step.afterApdus !== undefined && step.during !== undefined) bad(at, 'gives afterApdus and during: give one');
    if ((step.op === 'expect' || step.op === 'pin') && !paid)
      bad(at, `"${step.op}" acts on the current payment: a "pay" step must come first`);
    if (step.op === 'pay') paid = true;
    return step;
  });
  return { ...(doc.description === undefined ? {} : { description: doc.description as string }), steps };
}

/** Reads and validates a scenario file. */
export function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EcashError('scenario-unreadable', `cannot read the scenario ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new EcashError('bad-scenario', `${file} is not JSON: ${(e as Error).message}`);
  }
  return parseScenario(doc, file);
}

export interface ScenarioTargets {
  sim: { url: string; token: string };
  pos: { url: string; key: string };
  /** The bank that loads cards (create steps with `load`), and its operator's credential. */
  bank: { url: string; operatorToken: string | undefined } | undefined;
  stepTimeoutMs: number;
  onStep?: (result: StepResult) => void;
}

interface PaymentViewJson {
  id: string;
  state: string;
  events: { state: string; detail: { code?: string; message?: string } | null }[];
}

const FINAL = ['approved', 'declined', 'cancelled', 'settled'];

/** A JSON call to one of the two APIs; a refusal becomes an error carrying the API's code. */
async function call<T>(base: { url: string }, bearer: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new EcashError('unreachable', `cannot reach ${base.url}: ${(e as Error).message}`);
  }
  const answer = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok)
    throw new EcashError(
      // The API's own code, passed on as it answered (any code of docs/errors.md).
      (answer.error?.code as ErrorCode | undefined) ?? 'http-error',
      `${method} ${base.url}${path} answered ${res.status}: ${answer.error?.message ?? ''}`,
    );
  return answer as T;
}

class StepFailed extends Error {}

/** Plays `scenario`, step by step; stops at the first step that fails. */
export async function runScenario(scenario: Scenario, targets: ScenarioTargets): Promise<StepResult[]> {
  const sim = (method: string, path: string, body?: unknown) =>
    call<Record<string, unknown>>(targets.sim, targets.sim.token, method, path, body);
  const pos = <T>(method: string, path: string, body?: unknown) => call<T>(targets.pos, targets.pos.key, method, path, body);
  const cards = new Map<string, string>();
  let payment: string | undefined;
  const results: StepResult[] = [];

  /** Waits until the current payment has passed through `state` (it may have moved on since). */
  const reach = async (state: string, reason: string | undefined): Promise<string> => {
    const until = Date.now() + targets.stepTimeoutMs;
    for (;;) {
      const view = await pos<PaymentViewJson>('GET', `/payments/${payment!}`);
      const event = view.events.find((e) => e.state === state);
      if (event !== undefined) {
        const code = event.detail?.code;
        if (reason !== undefined && code !== reason)
          throw new StepFailed(
            `payment ${view.id} was ${state} with reason ${code ?? '(none)'}, not ${reason}: ${event.detail?.message ?? ''}`,
          );
        return `payment ${view.id} ${state}${code === undefined ? '' : ` (${code})`}`;
      }
      if (FINAL.includes(view.state)) {
        const last = view.events[view.events.length - 1]?.detail;
        throw new StepFailed(
          `payment ${view.id} ended ${view.state}${last?.code === undefined ? '' : ` (${last.code}: ${last.message ?? ''})`} without being ${state}`,
        );
      }
      if (Date.now() > until)
        throw new StepFailed(`payment ${view.id} was still ${view.state} after ${targets.stepTimeoutMs / 1000} s, not ${state}`);
      // Polling the terminal for a state: the wait is bounded above.
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const play = async (step: ScenarioStep): Promise<string> => {
    switch (step.op) {
      case 'create': {
        const { op: _op, card: name, load, currency, ...rest } = step;
        void _op;
        let body: Record<string, unknown> = rest;
        if (load !== undefined) {
          if (targets.bank === undefined || targets.bank.operatorToken === undefined) {
            throw new EcashError(
              'no-bank',
              'a card with a load needs the bank and its operator credential: --bank <url> and --bank-token-file <file> (or $ECASH_BANK_URL, $ECASH_BANK_TOKEN)',
            );
          }
          body = {
            ...rest,
            load: {
              bank: targets.bank.url,
              operatorToken: targets.bank.operatorToken,
              amount: load,
              ...(currency === undefined ? {} : { currency }),
            },
          };
        }
        const card = (await sim('POST', '/cards', body)) as { id: string };
        cards.set(name, card.id);
        return `card "${name}" is ${card.id}`;
      }
      case 'insert':
        await sim('POST', `/readers/${encodeURIComponent(step.reader)}/insert`, { card: cards.get(step.card) });
        return `card "${step.card}" in "${step.reader}"`;
      case 'pull': {
        const { op: _op, reader, ...plan } = step;
        void _op;
        await sim('POST', `/readers/${encodeURIComponent(reader)}/remove`, plan);
        return Object.keys(plan).length === 0
          ? `card out of "${reader}"`
          : `card in "${reader}" will leave ${step.during === 'pay' ? 'during its next PAY' : `after ${step.afterApdus} more commands`}`;
      }
      case 'pay': {
        const created = await pos<{ id: string; currency: string }>('POST', '/payments', {
          amount: step.amount,
          currency: step.currency ?? 'EUR',
          ...(step.reference === undefined ? {} : { reference: step.reference }),
        });
        payment = created.id;
        return step.expect === undefined ? `payment ${created.id} started` : reach(step.expect, step.reason);
      }
      case 'expect':
        return reach(step.state, step.reason);
      case 'pin':
        await pos('POST', `/payments/${payment!}/pin`, { pin: step.pin });
        return `PIN entered for payment ${payment!}`;
      case 'settle': {
        const report = await pos<{ outcomes: Record<string, number>; doubleSpends: unknown[] }>('POST', '/settlement');
        const credited = report.outcomes.credited ?? 0;
        if (step.credited !== undefined && credited !== step.credited)
          throw new StepFailed(`settlement credited ${credited} coins, not ${step.credited}: ${JSON.stringify(report.outcomes)}`);
        if (step.doubleSpends !== undefined && report.doubleSpends.length !== step.doubleSpends) {
          throw new StepFailed(`settlement found ${report.doubleSpends.length} double spends, not ${step.doubleSpends}`);
        }
        return `settled: ${JSON.stringify(report.outcomes)}, ${report.doubleSpends.length} double spends`;
      }
    }
  };

  for (const [i, step] of scenario.steps.entries()) {
    let result: StepResult;
    try {
      result = { step: i, op: step.op, ok: true, detail: await play(step) };
    } catch (e) {
      if (!(e instanceof StepFailed) && !(e instanceof EcashError)) throw e;
      result = { step: i, op: step.op, ok: false, detail: e instanceof EcashError ? `${e.message} [${e.code}]` : e.message };
    }
    if (payment !== undefined && (step.op === 'pay' || step.op === 'expect' || step.op === 'pin')) result.payment = payment;
    results.push(result);
    targets.onStep?.(result);
    if (!result.ok) break;
  }
  return results;
}
