/**
 * `ecash sim …`: the card simulator (docs/sim.md). `serve` runs simulated readers behind a reader
 * bridge (terminals use them with `--bridge URL --reader "Sim 0"`) and the test-helper API;
 * `run` plays a scenario file against a terminal's cash-register API and the simulator.
 */
import type { Command } from 'commander';
import { EcashError, type ErrorCode } from '../../core/index.js';
import { parseVpcdAddress } from '../../firmware-sim/index.js';
import { checkBridgeToken, DEFAULT_BRIDGE_HOST, startBridgeServer } from '../../reader-bridge/index.js';
import { buildSimApi, readScenario, runScenario, Simulator, type StepResult } from '../sim/index.js';
import { registerSimPanel } from '../web/index.js';
import { action, info, printResult } from './output.js';
import { portOption, wantsJson, wholeNumber } from './options.js';
import { readSecret } from './secrets.js';
import { listenForStop } from './signals.js';

const TOKEN_ENV = 'ECASH_BRIDGE_TOKEN';
const POS_KEY_ENV = 'ECASH_POS_API_KEY';
const BANK_URL_ENV = 'ECASH_BANK_URL';
const BANK_TOKEN_ENV = 'ECASH_BANK_TOKEN';

function required(value: string | undefined, code: ErrorCode, message: string): string {
  if (value === undefined) throw new EcashError(code, message);
  return value;
}

function simToken(file: string | undefined): string {
  const token = required(
    readSecret(file, TOKEN_ENV, 'simulator token', 'sim-token-missing'),
    'sim-token-missing',
    `no simulator token: set $${TOKEN_ENV} or pass --bridge-token-file`,
  );
  checkBridgeToken(token);
  return token;
}

function describeStep(r: StepResult): string {
  return `${r.ok ? 'ok  ' : 'FAIL'} ${r.step + 1}. ${r.op}${r.detail === '' ? '' : `: ${r.detail}`}`;
}

interface ServeOptions {
  readers: string;
  host: string;
  port: string;
  bridgePort: string;
  bridgeTokenFile?: string;
  vpcd?: string[] | true;
}

export function registerSimCommands(program: Command): void {
  const sim = program.command('sim').description('simulated readers and cards for testing a cash register, with no pcscd and no hardware');

  sim
    .command('serve')
    .description(
      `serve simulated readers ("Sim 0", …) over a reader bridge and the test-helper API (token from $${TOKEN_ENV} or --bridge-token-file)`,
    )
    .option('--readers <n>', 'how many simulated readers', '2')
    .option(
      '--host <address>',
      `address to listen on (default ${DEFAULT_BRIDGE_HOST}; anything else exposes the simulator to the network)`,
      DEFAULT_BRIDGE_HOST,
    )
    .option('--port <n>', 'test-helper API port', '35992')
    .option('--bridge-port <n>', 'reader bridge port (terminals: --bridge ws://host:port/v1)', '35991')
    .option('--bridge-token-file <file>', 'file holding the token the bridge and the API require')
    .option(
      '--vpcd [host:port...]',
      'attach "Sim 0", "Sim 1", … in order to these vpcd slots of pcscd (default 127.0.0.1:35963): their cards appear in PC/SC readers instead of the bridge',
    )
    .action(
      action(async (opts: ServeOptions, cmd: Command) => {
        const json = wantsJson(cmd);
        const token = simToken(opts.bridgeTokenFile);
        const port = portOption(opts.port);
        const bridgePort = portOption(opts.bridgePort, '--bridge-port');
        const vpcd = opts.vpcd === undefined ? [] : opts.vpcd === true ? [parseVpcdAddress(undefined)] : opts.vpcd.map(parseVpcdAddress);
        const simulator = new Simulator({
          readers: wholeNumber(opts.readers, '--readers'),
          vpcd,
          onVpcdEvent: (reader, e) => {
            if (e.type === 'connected') info(`"${reader}": card attached to vpcd at ${e.host}:${e.port}`);
            else if (e.type === 'disconnected') info(`"${reader}": ${e.reason}; reconnecting`);
            else if (e.type === 'error') info(`"${reader}": ${e.message}`);
          },
        });
        const interrupted = listenForStop();
        const closing: (() => Promise<void>)[] = [() => simulator.close()];
        try {
          const bridge = await startBridgeServer({ source: simulator.readers, token, host: opts.host, port: bridgePort, log: info });
          closing.unshift(() => bridge.close());
          const app = buildSimApi(simulator, { token });
          registerSimPanel(app);
          closing.unshift(() => app.close());
          const origin = await app.listen({ host: opts.host, port });
          const api = `${origin}/v1`;
          const panel = `${origin}/panel/`;
          const attached = simulator.vpcdAttachments();
          const readers = simulator.listReaders().map((r) => r.name);
          const bridged = readers.filter((r) => attached[r] === undefined);
          printResult({ json }, { bridge: bridge.url, api, panel, readers, vpcd: attached }, () =>
            [
              `simulated readers ${bridged.map((r) => `"${r}"`).join(', ') || '(none)'} on ${bridge.url}`,
              ...Object.entries(attached).map(([r, slot]) => `"${r}" into pcscd through vpcd ${slot}`),
              `test-helper API at ${api}, panel at ${panel} (Ctrl-C to stop)`,
            ].join('; '),
          );
          info(`stopping on ${await interrupted.received}`);
        } finally {
          for (const close of closing) await close();
        }
      }),
    );

  sim
    .command('run <file>')
    .description(
      "play a scenario file (docs/sim.md) against a terminal's cash-register API and the simulator; exit 1 at the first step that fails",
    )
    .option('--sim <url>', "the simulator's test-helper API", 'http://127.0.0.1:35992/v1')
    .option('--bridge-token-file <file>', `file holding the simulator's (bridge) token (default: $${TOKEN_ENV})`)
    .option('--pos <url>', "the terminal's cash-register API (`ecash pos serve`)", 'http://127.0.0.1:8090/v1')
    .option('--pos-key-file <file>', `file holding the terminal's API key (default: $${POS_KEY_ENV})`)
    .option('--bank <url>', `the bank that loads cards, for cards with a load (default: $${BANK_URL_ENV})`)
    .option(
      '--token-file <file>',
      `file holding the bank operator's credential that pays into the cards' accounts (default: $${BANK_TOKEN_ENV})`,
    )
    .option('--step-timeout <seconds>', 'how long one step may wait for the terminal', '60')
    .action(
      action(
        async (
          file: string,
          opts: {
            sim: string;
            bridgeTokenFile?: string;
            pos: string;
            posKeyFile?: string;
            bank?: string;
            tokenFile?: string;
            stepTimeout: string;
          },
          cmd: Command,
        ) => {
          const json = wantsJson(cmd);
          const scenario = readScenario(file);
          const bankUrl = opts.bank ?? process.env[BANK_URL_ENV];
          const results = await runScenario(scenario, {
            sim: { url: opts.sim.replace(/\/$/, ''), token: simToken(opts.bridgeTokenFile) },
            pos: {
              url: opts.pos.replace(/\/$/, ''),
              key: required(
                readSecret(opts.posKeyFile, POS_KEY_ENV, 'API key', 'api-key-unreadable'),
                'api-key-missing',
                `no terminal API key: pass --pos-key-file or set $${POS_KEY_ENV}`,
              ),
            },
            bank:
              bankUrl === undefined || bankUrl === ''
                ? undefined
                : { url: bankUrl, operatorToken: readSecret(opts.tokenFile, BANK_TOKEN_ENV, 'bank credential', 'bank-token-unreadable') },
            stepTimeoutMs: wholeNumber(opts.stepTimeout, '--step-timeout') * 1000,
            onStep: json ? undefined : (r) => info(describeStep(r)),
          });
          const passed = results.every((r) => r.ok) && results.length === scenario.steps.length;
          printResult({ json }, { scenario: file, passed, steps: results }, () =>
            passed ? `scenario passed: ${results.length} steps` : 'scenario FAILED',
          );
          if (!passed) process.exitCode = 1;
        },
      ),
    );
}
