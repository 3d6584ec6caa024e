/**
 * The reader bridge's commands: `ecash readers`, `ecash apdu`, `ecash bridge serve`, and the
 * reader options (`--reader`, `--bridge`, `--hid`, `--trace`, `--timeouts`) that every command
 * which talks to a card shares through `addReaderOptions` and `openCard`.
 */
import type { Command } from 'commander';
import { EcashError, fromHex, toHex } from '../../core/index.js';
import { swHex } from '../../wire/index.js';
import {
  ApduClient,
  DEFAULT_BRIDGE_HOST,
  formatTraceEntry,
  noReader,
  openReaders,
  parseHidDevice,
  parseTimeoutSpec,
  startBridgeServer,
  tracedChannel,
  type CardChannel,
  type HidDeviceFilter,
  type ReaderEvent,
  type ReaderSource,
  type ReaderSet,
  type ShareMode,
} from '../../reader-bridge/index.js';
import { action, info, printResult } from './output.js';
import { listenForStop } from './signals.js';
import { portOption, wantsJson } from './options.js';
import { readSecret } from './secrets.js';

export interface ReaderCliOptions {
  reader?: string;
  bridge?: string;
  bridgeTokenFile?: string;
  hid?: string[];
  trace?: boolean;
  timeouts?: string;
  share?: string;
  json?: boolean;
}

const TOKEN_ENV = 'ECASH_BRIDGE_TOKEN';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The options that choose readers; `--reader` is added by commands that talk to one card. */
export function addReaderOptions(cmd: Command, withReader = true): Command {
  addLocalReaderOptions(
    cmd
      .option('--bridge <url>', `use the readers of a remote bridge (ws://host:port/v1); token from $${TOKEN_ENV} or --bridge-token-file`)
      .option('--bridge-token-file <file>', 'file holding the remote bridge token'),
  );
  if (!withReader) return cmd;
  // What is said to the card in --reader: traced and timed by these.
  return cmd
    .option('--reader <name>', 'the reader holding the card (see `ecash readers`)')
    .option('--trace', 'print every APDU on stderr (PINs redacted)')
    .option('--timeouts <class=ms,…>', 'per-command-class budgets, e.g. payment=8000,withdrawal=30000');
}

/** The options for this machine's readers (what `bridge serve` shares; its clients trace and time their own commands). */
function addLocalReaderOptions(cmd: Command): Command {
  return cmd.option('--hid <vid:pid>', 'treat USB HID devices with this vendor:product id (hex) as cards; repeatable', collect);
}

/** The bridge token from a file or the environment, never from the command line (ps shows it). */
function readToken(file: string | undefined): string {
  const token = readSecret(file, TOKEN_ENV, 'bridge token', 'bridge-token-missing');
  if (token === undefined) throw new EcashError('bridge-token-missing', `no bridge token: set $${TOKEN_ENV} or pass --bridge-token-file`);
  return token;
}

export function readersFrom(opts: ReaderCliOptions): ReaderSet {
  const hidDevices: HidDeviceFilter[] = (opts.hid ?? []).map(parseHidDevice);
  if (opts.bridge !== undefined) return openReaders({ bridge: { url: opts.bridge, token: readToken(opts.bridgeTokenFile) } });
  return openReaders({ hidDevices });
}

/**
 * Fails at once when the reader `name` cannot be used: the bridge is down or refuses the token
 * (its own code), or no reader has that name (`no-reader`, listing those there are). A terminal
 * would otherwise wait its whole card wait for a card that cannot come.
 */
export async function requireReader(readers: ReaderSource, name: string): Promise<void> {
  const found = await readers.listReaders();
  if (found.some((r) => r.name === name)) return;
  throw noReader(name, [found.length === 0 ? 'there are no readers' : `the readers are ${found.map((r) => `"${r.name}"`).join(', ')}`]);
}

function shareMode(value: string | undefined): ShareMode {
  if (value === undefined || value === 'exclusive' || value === 'shared') return value ?? 'exclusive';
  throw new EcashError('bad-share-mode', `--share must be shared or exclusive, got "${value}"`);
}

export interface OpenedCard {
  client: ApduClient;
  channel: CardChannel;
  /** Disconnects and closes the readers so the process can exit. */
  close(disposition?: 'leave' | 'reset' | 'unpower'): Promise<void>;
}

/** Connects to the card in `--reader`, with tracing and budgets as the options say. */
export async function openCard(opts: ReaderCliOptions): Promise<OpenedCard> {
  if (opts.reader === undefined) throw new EcashError('no-reader', 'say which reader holds the card with --reader (see `ecash readers`)');
  const timeouts = opts.timeouts === undefined ? undefined : parseTimeoutSpec(opts.timeouts);
  const readers = readersFrom(opts);
  let channel: CardChannel;
  try {
    channel = await readers.connect(opts.reader, { share: shareMode(opts.share) });
  } catch (e) {
    await readers.close();
    throw e;
  }
  if (opts.trace) channel = tracedChannel(channel, (entry) => info(formatTraceEntry(entry)));
  const opened = channel;
  return {
    channel: opened,
    client: new ApduClient(opened, timeouts === undefined ? {} : { timeouts }),
    async close(disposition) {
      await opened.disconnect(disposition).catch(() => undefined);
      await readers.close();
    },
  };
}

/** Resolves once `reader` holds a card: listening first, then looking, so no insertion is missed. */
async function cardIn(readers: ReaderSet, reader: string, ms: number): Promise<void> {
  let stop = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      stop = readers.watch((e) => {
        if (e.reader.name === reader && e.type === 'card-inserted') resolve();
      });
      timer = setTimeout(
        () => reject(new EcashError('no-card', `no card came into reader "${reader}" within ${ms / 1000} s (see \`ecash readers\`)`)),
        ms,
      );
      readers.survey().then(({ readers: found }) => {
        if (found.some((r) => r.name === reader && r.cardPresent)) resolve();
      }, reject);
    });
  } finally {
    stop();
    clearTimeout(timer);
  }
}

function describeEvent(e: ReaderEvent): Record<string, unknown> {
  return {
    event: e.type,
    name: e.reader.name,
    transport: e.reader.transport,
    cardPresent: e.reader.cardPresent,
    ...(e.type === 'card-inserted' ? { atr: toHex(e.atr) } : {}),
  };
}

export function registerBridgeCommands(program: Command): void {
  addReaderOptions(program.command('readers').description('list PC/SC and USB HID readers and whether each holds a card'), false)
    .option('--watch', 'keep running and print reader and card events (with --json: one JSON object per line)')
    .option(
      '--wait-for-card <reader>',
      'first wait (at most 30 s) until a card is in this reader, e.g. one `ecash card serve --vpcd` just inserted',
    )
    .action(
      action(async (opts: ReaderCliOptions & { watch?: boolean; waitForCard?: string }, cmd: Command) => {
        const json = wantsJson(cmd);
        const readers = readersFrom(opts);
        try {
          if (opts.waitForCard !== undefined) await cardIn(readers, opts.waitForCard, 30_000);
          const { readers: found, unavailable } = await readers.surveyAvailable();
          for (const u of unavailable) info(`ecash: ${u.transport} readers are not available: ${u.message} [${u.code}]`);
          if (!opts.watch) {
            printResult({ json }, found, () =>
              found.length === 0
                ? 'no readers'
                : found.map((r) => `${r.name}\t${r.transport}\t${r.cardPresent ? 'card present' : 'empty'}`).join('\n'),
            );
            return;
          }
          const print = (line: Record<string, unknown>, human: string) =>
            process.stdout.write((json ? JSON.stringify(line) : human) + '\n');
          const interrupted = listenForStop();
          for (const r of found)
            print({ event: 'present', ...r }, `${r.name}\t${r.transport}\t${r.cardPresent ? 'card present' : 'empty'}`);
          const stop = readers.watch((e) => print(describeEvent(e), `${e.type}\t${e.reader.name}`));
          await interrupted.received;
          stop();
        } finally {
          await readers.close();
        }
      }),
    );

  addReaderOptions(
    program
      .command('apdu')
      .description('send command APDUs (hex) to the card in --reader, in order, and print the responses (GET RESPONSE and 6Cxx handled)')
      .argument('<hex...>', 'command APDUs as hex, e.g. 00a4040007f045434153480100'),
  )
    .option('--share <mode>', 'exclusive (default) or shared access to the reader')
    .option('--leave', 'leave the card powered and its session (selected applet, PIN) as it is afterwards')
    .action(
      action(async (hexes: string[], opts: ReaderCliOptions & { leave?: boolean }, cmd: Command) => {
        const json = wantsJson(cmd);
        const commands = hexes.map((h, i) => fromHex(h.toLowerCase().replace(/\s+/g, ''), `APDU ${i + 1}`));
        const card = await openCard({ ...opts, json });
        try {
          const results: { command: string; response: string; sw: string }[] = [];
          for (const command of commands) {
            const r = await card.client.sendBytes(command);
            results.push({ command: toHex(command), response: toHex(r.data), sw: swHex(r.sw) });
          }
          printResult(
            { json },
            { reader: card.channel.reader.name, atr: toHex(card.channel.atr), protocol: card.channel.protocol, results },
            () => results.map((r) => `${r.response}${r.response ? ' ' : ''}${r.sw}`).join('\n'),
          );
        } finally {
          await card.close(opts.leave ? 'leave' : 'reset');
        }
      }),
    );

  const bridge = program.command('bridge').description("share this machine's readers with terminals elsewhere");
  addLocalReaderOptions(
    bridge
      .command('serve')
      .description(`serve the local readers over a WebSocket (token from $${TOKEN_ENV} or --bridge-token-file; loopback unless --host)`),
  )
    .option('--host <address>', `address to listen on (default ${DEFAULT_BRIDGE_HOST}; anything else exposes the readers to the network)`)
    .option('--port <n>', 'port to listen on', '35990')
    .option('--bridge-token-file <file>', `file holding the token clients must present (default: $${TOKEN_ENV})`)
    .action(
      action(async (opts: ReaderCliOptions & { host?: string; port: string }, cmd: Command) => {
        const json = wantsJson(cmd);
        const port = portOption(opts.port);
        const source = readersFrom(opts);
        const interrupted = listenForStop();
        const server = await startBridgeServer({ source, token: readToken(opts.bridgeTokenFile), host: opts.host, port, log: info });
        if (opts.host !== undefined && opts.host !== DEFAULT_BRIDGE_HOST && opts.host !== 'localhost' && opts.host !== '::1') {
          info('ecash: the bridge listens beyond this machine without TLS: put it behind a TLS proxy or an SSH tunnel');
        }
        printResult({ json }, { url: server.url }, () => `reader bridge listening on ${server.url} (Ctrl-C to stop)`);
        await interrupted.received;
        await server.close();
        await source.close();
      }),
    );
}
