/**
 * The card's commands: `ecash card create`, `ecash card info`, `ecash card serve` (the card in a
 * real pcscd through vpcd) and `ecash card profiles`; `card pin …` and `card limit` (card-pin.ts)
 * talk to a card in a reader. The card is firmware-sim's emulated card;
 * hosts never reach into it except through a reader, so these are the only commands that open
 * an image file directly.
 */
import { randomInt } from 'node:crypto';
import { type Command, Option } from 'commander';
import { DEFAULT_SUITE, EcashError, formatAmount, isSuiteId, SUITE_IDS, toHex, type SuiteId } from '../../core/index.js';
import { swHex } from '../../wire/index.js';
import {
  CHIP_PROFILES,
  createCardImage,
  DEFAULT_CAPACITY,
  inspectCardImage,
  openCard,
  parseVpcdAddress,
  serveOverVpcd,
  type CardExchange,
  type CardImageSummary,
} from '../../firmware-sim/index.js';
import { redactCommand } from '../../reader-bridge/index.js';
import { parseNoPinLimit, registerCardPinCommands } from './card-pin.js';
import { action, info, printResult } from './output.js';
import { readSecret } from './secrets.js';
import { listenForStop } from './signals.js';
import { wantsJson, wholeNumber } from './options.js';

interface CreateOptions {
  pin?: string;
  puk?: string;
  pinFile?: string;
  pukFile?: string;
  suite?: string;
  capacity?: string;
  limit?: string;
}

interface ServeOptions {
  vpcd?: string | true;
  profile?: string;
  trace?: boolean;
  quickack?: boolean;
}

/** A PIN or PUK the holder did not choose: printed once, like an issuer's PIN letter. */
function randomDigits(n: number): string {
  return Array.from({ length: n }, () => randomInt(10)).join('');
}

function describeCard(file: string, s: CardImageSummary): string {
  const lines = [
    `card ${file}: ${s.personalised ? s.suite : 'factory-fresh'}, ${s.capacity} bytes, ${s.coinSlots} coin slots (${s.freeSlots} free)`,
  ];
  if (s.personalised) {
    lines.push(`PIN: ${s.pinTriesLeft} tries left, PUK: ${s.pukTriesLeft} tries left`);
    // The no-PIN limit counts minor units whatever the currency: shown in the coins' currency when they have one.
    const currencies = new Set(s.denominations.map((d) => d.currency));
    const [only] = currencies;
    const limitAmount = (minor: number | null) =>
      minor !== null && currencies.size === 1 && only !== undefined ? formatAmount(minor, only) : `${minor} minor units`;
    lines.push(
      `payments without the PIN: ${limitAmount(s.noPinSpent)} of ${limitAmount(s.noPinLimit)} used since the PIN was last entered (the card asks for it beyond that)`,
    );
    const totals = Object.entries(s.totals).map(([c, v]) => formatAmount(v, c));
    lines.push(`balance: ${totals.length === 0 ? 'empty' : totals.join(', ')}`);
    for (const d of s.denominations)
      lines.push(`  ${d.count} × ${formatAmount(d.value, d.currency)}${d.scope ? ` (${d.scope})` : ''}  key ${d.keyId.slice(0, 16)}…`);
    if (s.pendingWithdrawal) lines.push(`pending withdrawal of ${formatAmount(s.pendingWithdrawal.value, s.pendingWithdrawal.currency)}`);
    lines.push(`payments in the card's log: ${s.paymentsLogged}`);
  }
  return lines.join('\n');
}

/** One trace line: the command with any PIN or PUK redacted, the status, the work it counted. */
function traceLine(e: CardExchange): string {
  const n = e.response.length;
  const sw = n >= 2 ? swHex((e.response[n - 2]! << 8) | e.response[n - 1]!) : '';
  const c = e.cost;
  const work = [
    c.exp + c.multiExp > 0 ? `exp ${c.exp}+${c.multiExp}msm/${c.multiExpBases}` : '',
    c.scalarMul > 0 ? `mulq ${c.scalarMul}` : '',
    c.hash > 0 ? `hash ${c.hash}` : '',
    c.nvmBytesWritten > 0 ? `nvm ${c.nvmBytesWritten}B/${c.nvmWrites}w` : '',
  ].filter((x) => x !== '');
  const modelled = e.modelledMs === undefined ? '' : ` chip ${e.modelledMs.toFixed(1)}ms`;
  const refusal = e.refusal === undefined ? '' : ` (${e.refusal})`;
  return `> ${redactCommand(e.command)}\n< ${toHex(e.response.subarray(0, Math.max(0, n - 2)))} ${sw}${refusal} [${e.elapsedMs.toFixed(3)}ms${modelled}${work.length ? ' ' + work.join(' ') : ''}]`;
}

export function registerCardCommands(program: Command): void {
  const card = program.command('card').description('the emulated e-cash card: create an image, inspect it, serve it to pcscd');

  card
    .command('create <file>')
    .description('create and personalise a card image file (u1 is generated on the card; PIN and PUK are printed once if not given)')
    .option('--pin-file <file>', 'file holding the holder PIN, 4-12 digits (default: $ECASH_PIN, else a random 6-digit PIN, printed once)')
    .option(
      '--puk-file <file>',
      'file holding the unblocking PUK, 8-16 digits (default: $ECASH_PUK, else a random 10-digit PUK, printed once)',
    )
    // A secret as an argument is seen by every user of the machine (ps, shell history): refused, saying what to use.
    .addOption(new Option('--pin <digits>').hideHelp())
    .addOption(new Option('--puk <digits>').hideHelp())
    .option('--suite <id>', `group suite: ${SUITE_IDS.join(', ')}`, DEFAULT_SUITE)
    .option('--capacity <bytes>', 'persistent memory size of the card', String(DEFAULT_CAPACITY))
    .option(
      '--limit <minor units>',
      'payments need no PIN until together they exceed this (a PIN entry starts the count again; 0: every payment needs it)',
      '0',
    )
    .action(
      action(async (file: string, opts: CreateOptions, cmd: Command) => {
        const suite = opts.suite ?? DEFAULT_SUITE;
        if (!isSuiteId(suite)) throw new EcashError('unknown-suite', `--suite must be one of ${SUITE_IDS.join(', ')}, got "${suite}"`);
        for (const [given, name, env] of [
          [opts.pin, 'pin', 'ECASH_PIN'],
          [opts.puk, 'puk', 'ECASH_PUK'],
        ] as const) {
          if (given !== undefined) {
            throw new EcashError(
              'secret-in-argument',
              `--${name} would show the ${name.toUpperCase()} to every user of this machine: put it in a file for --${name}-file, or in $${env}`,
            );
          }
        }
        const givenPin = readSecret(opts.pinFile, 'ECASH_PIN', 'PIN', 'pin-unreadable');
        const givenPuk = readSecret(opts.pukFile, 'ECASH_PUK', 'PUK', 'puk-unreadable');
        const pin = givenPin ?? randomDigits(6);
        const puk = givenPuk ?? randomDigits(10);
        await createCardImage(file, {
          suite: suite as SuiteId,
          pin,
          puk,
          capacity: wholeNumber(opts.capacity, '--capacity', DEFAULT_CAPACITY),
          noPinLimit: opts.limit === undefined ? 0 : parseNoPinLimit(opts.limit),
        });
        const summary = inspectCardImage(file);
        const generated = { ...(givenPin === undefined ? { pin } : {}), ...(givenPuk === undefined ? { puk } : {}) };
        printResult({ json: wantsJson(cmd) }, { file, ...summary, ...generated }, () =>
          [
            describeCard(file, summary),
            ...(givenPin === undefined ? [`PIN (write it down, it is not stored in clear): ${pin}`] : []),
            ...(givenPuk === undefined ? [`PUK (write it down, it is not stored in clear): ${puk}`] : []),
          ].join('\n'),
        );
      }),
    );

  card
    .command('info <file>')
    .description('balance, coins by denomination, PIN state of a card image (no secrets)')
    .action(
      action(async (file: string, _opts: unknown, cmd: Command) => {
        const summary = inspectCardImage(file);
        printResult({ json: wantsJson(cmd) }, { file, ...summary }, () => describeCard(file, summary));
      }),
    );

  card
    .command('serve <file>')
    .description('insert the card into pcscd through vpcd and stay attached until SIGINT/SIGTERM (reconnects when pcscd restarts)')
    .option('--vpcd [host:port]', 'the vpcd slot to attach to (default 127.0.0.1:35963, reader "Virtual PCD 00 00")')
    .option('--profile <chip>', `answer as slowly as a real chip: ${Object.keys(CHIP_PROFILES).join(', ')} (see ecash card profiles)`)
    .option('--trace', 'log every APDU on stderr, PINs and PUKs redacted, with the work it counted')
    .option('--no-quickack', 'do not set TCP_QUICKACK (every APDU then stalls ~40 ms on delayed ACKs unless the route has quickack 1)')
    .action(
      action(async (file: string, opts: ServeOptions, cmd: Command) => {
        if (opts.vpcd === undefined) throw new EcashError('bad-option', 'say where to serve the card: --vpcd [host:port]');
        const address = parseVpcdAddress(opts.vpcd === true ? undefined : opts.vpcd);
        const emulated = openCard(file, opts.profile === undefined ? {} : { profile: opts.profile });
        const stop = listenForStop();
        if (opts.trace) emulated.onExchange((e) => info(traceLine(e)));
        const connection = await serveOverVpcd(emulated, {
          ...address,
          quickAck: opts.quickack === false ? 'off' : 'auto',
          onEvent: (e) => {
            if (e.type === 'connected')
              info(`ecash: card attached to vpcd at ${e.host}:${e.port}${e.quickAck ? '' : ' (without TCP_QUICKACK)'}`);
            else if (e.type === 'disconnected') info(`ecash: ${e.reason}; reconnecting`);
            else if (e.type === 'error') info(`ecash: ${e.message}`);
            else if (opts.trace) info(`ecash: power ${e.state}`);
          },
        });
        const q = connection.quickAck;
        if (!q.active && opts.quickack !== false)
          info(`ecash: TCP_QUICKACK unavailable (${q.reason}): expect ~40 ms per APDU through pcscd`);
        printResult(
          { json: wantsJson(cmd) },
          { file, vpcd: address, profile: emulated.profile?.id ?? null, quickAck: q.active },
          () =>
            `serving ${file} on vpcd ${address.host}:${address.port}${emulated.profile ? ` as ${emulated.profile.name}` : ''} (Ctrl-C to stop)`,
        );
        await stop.received;
        await connection.close();
        emulated.close();
      }),
    );

  registerCardPinCommands(card);

  card
    .command('profiles')
    .description('the chip profiles for --profile, with their prices per operation (ms)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const profiles = Object.values(CHIP_PROFILES);
        printResult({ json: wantsJson(cmd) }, profiles, () =>
          profiles
            .map(
              (p) =>
                `${p.id}: ${p.name} — ${p.summary}\n  exp ${p.ec.exp} ms, mul mod q ${p.ec.scalarMul} ms, point add ${p.ec.groupMul} ms, per command ${p.ec.command} ms`,
            )
            .join('\n'),
        );
      }),
    );
}
