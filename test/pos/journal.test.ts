import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../host/pos/journal.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pos-journal-'));
  path = join(dir, 'journal.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const base = { amount: 1250, currency: 'EUR', reference: 'order-7', merchantId: 'm-1', terminalId: 't-1', mode: 'offline' as const };
const transcript = (index: number, a: number, evidenceOnly = false) => ({
  index,
  keyId: new Uint8Array(32).fill(1),
  coinA: new Uint8Array(32).fill(a),
  value: 500,
  bytes: new Uint8Array([1, 2, 3, a]),
  evidenceOnly,
});

describe('Journal', () => {
  it('keeps every state change as a new event and survives reopening', () => {
    const j = new Journal(path);
    const p = j.createPayment(base);
    j.appendEvent(p.id, 'waiting-for-card');
    j.recordRequest(p.id, { timestamp: 1, nonce: new Uint8Array(16).fill(7), accepted: ['aa'.repeat(32), 'bb'.repeat(32)] });
    j.recordResponses(p.id, [transcript(0, 1), transcript(1, 2)]);
    j.appendEvent(p.id, 'approved');
    j.close();

    const again = new Journal(path);
    expect(again.events(p.id).map((e) => e.state)).toEqual([
      'created',
      'waiting-for-card',
      'request-sent',
      'responses-received',
      'approved',
    ]);
    expect(again.latestRequest(p.id)).toEqual({
      timestamp: 1,
      nonce: new Uint8Array(16).fill(7),
      accepted: ['aa'.repeat(32), 'bb'.repeat(32)],
    });
    expect(again.transcripts(p.id)).toHaveLength(2);
    expect(again.payment(p.id)).toMatchObject(base);
    again.close();
  });

  it('refuses changes after a final state', () => {
    const j = new Journal(path);
    const p = j.createPayment(base);
    j.appendEvent(p.id, 'declined', { code: 'insufficient-funds' });
    expect(() => j.appendEvent(p.id, 'approved')).toThrow(expect.objectContaining({ code: 'payment-final' }));
    j.close();
  });

  it('knows coins it has seen in other payments', () => {
    const j = new Journal(path);
    const p1 = j.createPayment(base);
    j.recordResponses(p1.id, [transcript(0, 9)]);
    const p2 = j.createPayment(base);
    expect(j.coinSeenElsewhere(new Uint8Array(32).fill(9), p2.id)).toBe(true);
    expect(j.coinSeenElsewhere(new Uint8Array(32).fill(9), p1.id)).toBe(false);
    j.close();
  });

  it('settles approved transcripts and evidence once, and resends a pending batch as it was', () => {
    const j = new Journal(path);
    const ok = j.createPayment(base);
    j.recordResponses(ok.id, [transcript(0, 1), transcript(1, 2)]);
    j.appendEvent(ok.id, 'approved');
    const bad = j.createPayment(base);
    j.recordResponses(bad.id, [transcript(0, 1, true), transcript(1, 3)]);
    j.appendEvent(bad.id, 'declined', { code: 'coin-already-seen' });

    const todo = j.unsettledTranscripts(100);
    expect(todo.map((t) => [t.paymentId, t.index])).toEqual(
      [
        [ok.id, 0],
        [ok.id, 1],
        [bad.id, 0],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1])),
    );
    j.recordBatch(
      'batch-1',
      todo.map((t) => ({ paymentId: t.paymentId, index: t.index })),
    );
    expect(j.unsettledTranscripts(100)).toHaveLength(0);
    expect(j.pendingBatches()).toEqual([{ batchId: 'batch-1', items: todo.map((t) => ({ paymentId: t.paymentId, index: t.index })) }]);

    j.recordResults('batch-1', [
      { paymentId: ok.id, index: 0, outcome: 'credited' },
      { paymentId: ok.id, index: 1, outcome: 'credited' },
      { paymentId: bad.id, index: 0, outcome: 'double-spend' },
    ]);
    expect(j.pendingBatches()).toHaveLength(0);
    expect(j.currentState(ok.id)).toBe('settled');
    expect(j.currentState(bad.id)).toBe('declined');
    expect(j.settlementStatus()).toMatchObject({ unsettled: 0, pendingBatches: 0, outcomes: { credited: 2, 'double-spend': 1 } });
    j.close();
  });

  it("gives coins a batch released back to the next batch, and a run's cursor moves past them", () => {
    const j = new Journal(path);
    const p = j.createPayment(base);
    j.recordResponses(p.id, [transcript(0, 1), transcript(1, 2)]);
    j.appendEvent(p.id, 'approved');
    const items = j.unsettledTranscripts(100).map((t) => ({ paymentId: t.paymentId, index: t.index }));
    j.recordBatch('batch-1', items);
    j.recordResults('batch-1', [{ ...items[0]!, outcome: 'credited' }], Date.now(), [
      { ...items[1]!, code: 'scope-not-accepted', message: 'not this scope' },
    ]);
    // Answered (not pending), the credited coin settled, the released one unsettled again.
    expect(j.pendingBatches()).toEqual([]);
    expect(j.unsettledTranscripts(100).map((t) => t.index)).toEqual([1]);
    expect(j.unsettledTranscripts(100, { paymentId: p.id, index: 1 })).toEqual([]);
    expect(j.currentState(p.id)).toBe('approved');
    j.recordBatch('batch-2', [items[1]!]);
    j.recordResults('batch-2', [{ ...items[1]!, outcome: 'credited' }]);
    expect(j.unsettledTranscripts(100)).toEqual([]);
    expect(j.currentState(p.id)).toBe('settled');
    expect(j.settlementStatus()).toMatchObject({ unsettled: 0, pendingBatches: 0, outcomes: { credited: 2 } });
    j.close();
  });

  it('lists unfinished payments so a restarted terminal can resume them', () => {
    const j = new Journal(path);
    const p = j.createPayment(base);
    j.recordRequest(p.id, { timestamp: 1, nonce: new Uint8Array(16), accepted: ['aa'.repeat(32)] });
    const done = j.createPayment(base);
    j.appendEvent(done.id, 'cancelled');
    expect(j.unfinishedPayments().map((x) => x.id)).toEqual([p.id]);
    j.close();
  });
});
