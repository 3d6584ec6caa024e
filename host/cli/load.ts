/**
 * The card holder's side: `ecash account open` registers the card's account with the bank, and
 * `ecash load` withdraws coins onto the card (or `--rebalance`s them) with a progress bar.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { EcashError, formatAmount, parseAmount, parseCurrency, toHex } from '../../core/index.js';
import { EcashCardClient } from '../../reader-bridge/index.js';
import { accountOpeningJson, type AccountOpeningJson } from '../bank-client/index.js';
import { httpIssuer, LoadJournal, type LoadProgress, loadCard, rebalanceCard } from '../load/index.js';
import { addBankOptions, type BankLinkOptions, bankClientFrom } from './bank-link.js';
import { addReaderOptions, openCard, type ReaderCliOptions } from './bridge.js';
import { action, info, printResult, writeNewJsonFile } from './output.js';
import { tokenFileOption, wantsJson } from './options.js';
import { addPinOption, holderPin, openSecretFile } from './secrets.js';

interface HolderOptions extends BankLinkOptions, ReaderCliOptions {
  pinFile?: string;
}

function addHolderOptions(cmd: Command, withToken = true): Command {
  return addPinOption(addBankOptions(addReaderOptions(cmd), withToken));
}

async function openHolderCard(opts: HolderOptions) {
  const pin = await holderPin(opts.pinFile)();
  const opened = await openCard(opts);
  try {
    const card = new EcashCardClient(opened.client);
    await card.select();
    await card.verifyPin(pin);
    return { card, verifyPin: () => card.verifyPin(pin), close: () => opened.close('reset') };
  } catch (e) {
    await opened.close('reset');
    throw e;
  }
}

function progressBar(json: boolean, currency: string) {
  if (json || !process.stderr.isTTY) {
    return {
      update: (p: LoadProgress) => info(`coin ${p.done}/${p.total}: ${formatAmount(p.loadedValue, currency)} loaded`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: 'loading [{bar}] {value}/{total} coins, {loaded}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: LoadProgress) {
      if (!started) {
        bar.start(p.total, p.done, { loaded: formatAmount(p.loadedValue, currency) });
        started = true;
      } else bar.update(p.done, { loaded: formatAmount(p.loadedValue, currency) });
    },
    stop: () => started && bar.stop(),
  };
}

export function registerLoadCommands(program: Command): void {
  const account = program.command('account').description("the card holder's bank account");
  const open = addHolderOptions(
    account
      .command('open')
      .description('register the card with the bank: the card makes its identity I and proves it knows the secret behind it'),
    false,
  ).requiredOption('--holder <name>', 'the account holder, as the bank records it');
  tokenFileOption(open, 'write the account credential to this new file (mode 600) instead of printing it', ['--credential-out']).action(
    action(async (opts: HolderOptions & { holder: string }, cmd: Command) => {
      const json = wantsJson(cmd);
      const credentialOut = opts.tokenFile;
      const bank = bankClientFrom({ ...opts, tokenFile: undefined }, false);
      const credentialFile = credentialOut === undefined ? undefined : openSecretFile(credentialOut);
      const { card, close } = await openHolderCard(opts).catch((e: unknown) => {
        credentialFile?.close();
        throw e;
      });
      try {
        const opening = await card.openAccount(opts.holder);
        const opened = await bank.openAccount(accountOpeningJson(card.group, opts.holder, opening));
        credentialFile?.write(opened.credential);
        const shown = credentialOut === undefined ? opened : { ...opened, credential: `(written to ${credentialOut})` };
        printResult({ json }, shown, () =>
          [
            `account ${opened.accountId} opened for ${opened.holder}`,
            `credential: ${shown.credential}`,
            'keep the credential secret: it withdraws from this account',
          ].join('\n'),
        );
      } finally {
        credentialFile?.close();
        await close();
      }
    }),
  );

  addPinOption(
    addReaderOptions(
      account
        .command('export-opening')
        .description(
          "have the card make its account opening (I and its proof) and write it to a file, for a bank operator's `ecash bank account open --opening`",
        ),
    ),
  )
    .requiredOption('--holder <name>', 'the account holder, as the bank will record it')
    .requiredOption('--out <file>', 'the new file for the opening (JSON: suite, holder, I, proof; no secret)')
    .action(
      action(async (opts: HolderOptions & { holder: string; out: string }, cmd: Command) => {
        const { card, close } = await openHolderCard(opts);
        let opening: AccountOpeningJson;
        try {
          opening = accountOpeningJson(card.group, opts.holder, await card.openAccount(opts.holder));
        } finally {
          await close();
        }
        writeNewJsonFile(opts.out, opening, 'account opening');
        printResult(
          { json: wantsJson(cmd) },
          { file: opts.out, ...opening },
          () =>
            `account opening of ${opts.holder} written to ${opts.out}; the bank opens the account with: ecash bank account open --opening ${opts.out} …`,
        );
      }),
    );

  addHolderOptions(
    program
      .command('load [amount]')
      .description('withdraw [amount] minor units (1234 is 12.34 EUR) onto the card, one blind-signed coin at a time'),
  )
    .requiredOption('--account <id>', 'the account to withdraw from (its credential in --token-file)')
    .option('--currency <code>', 'the currency to load', 'EUR')
    .option('--journal <file>', 'the load journal (SQLite): an interrupted load is finished from it on the next run', 'ecash-load.db')
    .option('--rebalance', "exchange the card's coins for a mix that pays any amount in fewer coins (after loading, if an amount is given)")
    .action(
      action(
        async (
          amountText: string | undefined,
          opts: HolderOptions & { account: string; currency: string; journal: string; rebalance?: boolean },
          cmd: Command,
        ) => {
          const json = wantsJson(cmd);
          if (amountText === undefined && !opts.rebalance)
            throw new EcashError('bad-amount', 'say how much to load (minor units), or use --rebalance');
          const amount = amountText === undefined ? undefined : parseAmount(amountText);
          const currency = parseCurrency(opts.currency);
          const issuer = await httpIssuer(bankClientFrom(opts), opts.account);
          const journal = new LoadJournal(opts.journal);
          const { card, verifyPin, close } = await openHolderCard(opts);
          const bar = progressBar(json, currency);
          try {
            const base = { card, bank: issuer, journal, account: opts.account, currency, onProgress: (p: LoadProgress) => bar.update(p) };
            const loaded = amount === undefined ? undefined : await loadCard({ ...base, amount });
            const rebalanced = opts.rebalance ? await rebalanceCard({ ...base, verifyPin }) : undefined;
            bar.stop();
            const result = {
              ...(loaded === undefined ? {} : { loaded }),
              ...(rebalanced === undefined ? {} : { rebalanced }),
              balance: (await card.balance()).map((b) => ({ ...b, keyId: toHex(b.keyId) })),
            };
            printResult({ json }, result, () =>
              [
                ...(loaded === undefined ? [] : [`loaded ${formatAmount(loaded.loaded, currency)} as ${loaded.coins.length} coins`]),
                ...(loaded?.recovered.length ? [`finished ${loaded.recovered.length} withdrawal(s) an earlier load left half done`] : []),
                ...(loaded?.unresolved.length
                  ? [`${loaded.unresolved.length} earlier withdrawal(s) need the bank operator: see the load journal`]
                  : []),
                ...(rebalanced === undefined
                  ? []
                  : [`rebalanced: gave back ${rebalanced.gaveBack.length} coins, withdrew ${rebalanced.withdrew.length}`]),
                `card holds ${formatAmount(
                  result.balance.filter((b) => b.currency === currency).reduce((s, b) => s + b.value * b.count, 0),
                  currency,
                )}`,
              ].join('\n'),
            );
          } finally {
            bar.stop();
            journal.close();
            await close();
          }
        },
      ),
    );
}
