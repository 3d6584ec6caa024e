/**
 * The card holder's secrets on a card in a reader: `ecash card pin change`, `ecash card pin
 * unblock` (with the PUK, after three wrong PINs) and `ecash card limit` (what may be paid without
 * the PIN). The PIN, new PIN and PUK come from files, the environment or the keyboard, never from
 * the command line, and never show in output or traces.
 */
import type { Command } from 'commander';
import { formatAmount, parseAmount, parseCurrency } from '../../core/index.js';
import { validatePin, validatePuk } from '../../wire/index.js';
import { EcashCardClient } from '../../reader-bridge/index.js';
import { addReaderOptions, openCard, type ReaderCliOptions } from './bridge.js';
import { action, printResult } from './output.js';
import { wantsJson } from './options.js';
import { addPinOption, cardSecret, holderPin } from './secrets.js';

const NEW_PIN_ENV = 'ECASH_NEW_PIN';
const PUK_ENV = 'ECASH_PUK';

interface PinCliOptions extends ReaderCliOptions {
  pinFile?: string;
  newPinFile?: string;
  pukFile?: string;
}

function newPin(opts: PinCliOptions): () => Promise<string> {
  return cardSecret({
    what: 'new PIN',
    option: '--new-pin-file',
    file: opts.newPinFile,
    env: NEW_PIN_ENV,
    validate: validatePin,
    confirm: true,
  });
}

function addNewPinOption(cmd: Command): Command {
  return cmd.option('--new-pin-file <file>', `file holding the new PIN, 4-12 digits (default: $${NEW_PIN_ENV}, else typed twice)`);
}

/** Runs `fn` on the e-cash applet of the card in `--reader`, then resets the card (its PIN session ends). */
async function onCard<T>(opts: PinCliOptions, fn: (card: EcashCardClient) => Promise<T>): Promise<T> {
  const opened = await openCard(opts);
  try {
    const card = new EcashCardClient(opened.client);
    await card.select();
    return await fn(card);
  } finally {
    await opened.close('reset');
  }
}

/** The no-PIN limit as typed (`card limit`, `card create --limit`): 0 (every payment needs the PIN) or an amount. */
export function parseNoPinLimit(text: string): number {
  return text === '0' ? 0 : parseAmount(text, 'no-PIN limit');
}

export function registerCardPinCommands(card: Command): void {
  const pin = card.command('pin').description("the card holder's PIN on a card in a reader: change it, or unblock it with the PUK");

  addNewPinOption(
    addPinOption(
      addReaderOptions(
        pin.command('change').description('change the PIN (the current one is checked by the card; a wrong one costs a try)'),
      ),
    ),
  ).action(
    action(async (opts: PinCliOptions, cmd: Command) => {
      const current = holderPin(opts.pinFile);
      const next = newPin(opts);
      const [oldPin, newValue] = [await current(), await next()];
      await onCard(opts, (c) => c.changePin(oldPin, newValue));
      printResult({ json: wantsJson(cmd) }, { changed: true }, () => 'PIN changed');
    }),
  );

  addNewPinOption(
    addReaderOptions(
      pin.command('unblock').description('unblock the PIN after three wrong tries: the PUK sets a new PIN and restores its tries'),
    ),
  )
    .option('--puk-file <file>', `file holding the PUK (default: $${PUK_ENV}, else typed)`)
    .action(
      action(async (opts: PinCliOptions, cmd: Command) => {
        const puk = cardSecret({ what: 'PUK', option: '--puk-file', file: opts.pukFile, env: PUK_ENV, validate: validatePuk });
        const next = newPin(opts);
        const [pukValue, newValue] = [await puk(), await next()];
        await onCard(opts, (c) => c.unblockPin(pukValue, newValue));
        printResult({ json: wantsJson(cmd) }, { unblocked: true }, () => 'PIN unblocked: the new PIN has its 3 tries');
      }),
    );

  addPinOption(
    addReaderOptions(
      card
        .command('limit <amount>')
        .description(
          'set how much (minor units; 1234 is 12.34 EUR) may be paid without the PIN until it is entered again (0: every payment needs it)',
        ),
    ),
  )
    .option('--currency <code>', 'the currency the amount is shown in (the card counts minor units of any)', 'EUR')
    .action(
      action(async (limitText: string, opts: PinCliOptions & { currency: string }, cmd: Command) => {
        const limit = parseNoPinLimit(limitText);
        const currency = parseCurrency(opts.currency);
        const pinValue = await holderPin(opts.pinFile)();
        await onCard(opts, (c) => c.setLimit(pinValue, limit));
        printResult({ json: wantsJson(cmd) }, { noPinLimit: limit }, () =>
          limit === 0
            ? 'every payment now needs the PIN'
            : `payments need no PIN until together they exceed ${formatAmount(limit, currency)}`,
        );
      }),
    );
}
