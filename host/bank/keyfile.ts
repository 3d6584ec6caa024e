/**
 * The bank's denomination secrets, encrypted at rest. The database holds public keys only; the
 * secrets x live in a key file sealed with AES-256-GCM under a key derived from a passphrase with
 * scrypt. The public keys and the suite are stored beside the ciphertext in clear (operators list
 * them without the passphrase) and are the GCM associated data, so editing them breaks the seal.
 *
 * `BankKeyStore` is the seam for a KMS: the service only asks a store for its keys once at start.
 */
import { randomBytes, scryptSync, createCipheriv, createDecipheriv } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  DEFAULT_SUITE,
  type DenominationSecret,
  type DenominationTerms,
  EcashError,
  expectArray,
  expectLiteral,
  expectObject,
  expectSafeInteger,
  expectString,
  fromHex,
  generateDenominationKey,
  getGroup,
  type Group,
  isSuiteId,
  keyFromJson,
  type KeyJson,
  keyToJson,
  type SuiteId,
  systemRandom,
  toHex,
  bytesEqual,
} from '../../core/index.js';

/** Where the service gets its denomination secrets (a key file here; a KMS could implement it). */
export interface BankKeyStore {
  readonly suite: SuiteId;
  loadSecrets(): DenominationSecret[];
}

const FILE_TYPE = 'ecash-bank-keyfile';
/** scrypt cost: 2^15 × 8 × 128 B = 32 MiB and about 0.1 s per unlock on this class of machine. */
const SCRYPT = { N: 32768, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;
const MIN_PASSPHRASE = 12;

interface KeyFileJson {
  version: 1;
  type: typeof FILE_TYPE;
  suite: SuiteId;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  ciphertext: string;
  keys: KeyJson[];
}

/**
 * The scrypt cost a file may ask for: what scrypt accepts (N a power of two) within the memory
 * bound, and p at most 16, so that an edited file is refused at once instead of crashing the
 * program or keeping it busy for hours (the file's cost parameters are not authenticated).
 */
function checkScryptCost(cost: { N: number; r: number; p: number }, path: string): void {
  const { N, r, p } = cost;
  const powerOfTwo = N <= 2 ** 30 && (N & (N - 1)) === 0;
  if (!powerOfTwo || r > 32 || p > 16 || 128 * N * r > SCRYPT_MAXMEM) {
    throw new EcashError(
      'bad-keyfile',
      `${path} asks for a key derivation cost this program does not accept (scrypt N=${N}, r=${r}, p=${p}): the file was altered`,
    );
  }
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new EcashError('weak-passphrase', `the key file passphrase must be at least ${MIN_PASSPHRASE} characters`);
  }
}

function associatedData(suite: SuiteId, keys: readonly KeyJson[]): Buffer {
  return Buffer.from(JSON.stringify({ type: FILE_TYPE, suite, keys }), 'utf8');
}

function deriveKey(passphrase: string, salt: Uint8Array, kdf: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { ...kdf, maxmem: SCRYPT_MAXMEM });
}

function seal(group: Group, secrets: readonly DenominationSecret[], passphrase: string): KeyFileJson {
  checkPassphrase(passphrase);
  const keys = secrets.map((s) => keyToJson(group, s.key));
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(passphrase, salt, SCRYPT), iv);
  cipher.setAAD(associatedData(group.suite, keys));
  const plain = Buffer.from(
    JSON.stringify(secrets.map((s) => ({ keyId: toHex(s.key.keyId), x: toHex(group.scalars.encode(s.x)) }))),
    'utf8',
  );
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  return {
    version: 1,
    type: FILE_TYPE,
    suite: group.suite,
    kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('hex') },
    cipher: 'aes-256-gcm',
    iv: iv.toString('hex'),
    tag: cipher.getAuthTag().toString('hex'),
    ciphertext: ciphertext.toString('hex'),
    keys,
  };
}

function parseFile(text: string, path: string): KeyFileJson {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new EcashError('bad-keyfile', `${path} is not a bank key file (not JSON)`);
  }
  const o = expectObject(v, 'keyfile', ['version', 'type', 'suite', 'kdf', 'cipher', 'iv', 'tag', 'ciphertext', 'keys']);
  expectLiteral(o.version, 'keyfile.version', 1);
  expectLiteral(o.type, 'keyfile.type', FILE_TYPE);
  expectLiteral(o.cipher, 'keyfile.cipher', 'aes-256-gcm');
  const suite = expectString(o.suite, 'keyfile.suite');
  if (!isSuiteId(suite)) throw new EcashError('bad-keyfile', `${path} names an unknown suite`);
  const kdf = expectObject(o.kdf, 'keyfile.kdf', ['name', 'N', 'r', 'p', 'salt']);
  expectLiteral(kdf.name, 'keyfile.kdf.name', 'scrypt');
  const cost = {
    N: expectSafeInteger(kdf.N, 'keyfile.kdf.N', 2),
    r: expectSafeInteger(kdf.r, 'keyfile.kdf.r', 1),
    p: expectSafeInteger(kdf.p, 'keyfile.kdf.p', 1),
  };
  checkScryptCost(cost, path);
  return {
    version: 1,
    type: FILE_TYPE,
    suite,
    kdf: { name: 'scrypt', ...cost, salt: expectString(kdf.salt, 'keyfile.kdf.salt') },
    cipher: 'aes-256-gcm',
    iv: expectString(o.iv, 'keyfile.iv'),
    tag: expectString(o.tag, 'keyfile.tag'),
    ciphertext: expectString(o.ciphertext, 'keyfile.ciphertext'),
    keys: expectArray(o.keys, 'keyfile.keys') as KeyJson[],
  };
}

function unseal(file: KeyFileJson, passphrase: string, path: string): DenominationSecret[] {
  const group = getGroup(file.suite);
  const decipher = createDecipheriv(
    'aes-256-gcm',
    deriveKey(passphrase, fromHex(file.kdf.salt, 'keyfile.kdf.salt'), file.kdf),
    fromHex(file.iv, 'keyfile.iv', 12),
  );
  decipher.setAAD(associatedData(file.suite, file.keys));
  decipher.setAuthTag(fromHex(file.tag, 'keyfile.tag', 16));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(fromHex(file.ciphertext, 'keyfile.ciphertext')), decipher.final()]);
  } catch {
    throw new EcashError('keyfile-locked', `cannot open ${path}: wrong passphrase, or the file was altered`);
  }
  const entries = expectArray(JSON.parse(plain.toString('utf8')), 'keyfile secrets');
  plain.fill(0);
  if (entries.length !== file.keys.length) throw new EcashError('bad-keyfile', `${path}: secrets and public keys do not match`);
  return file.keys.map((kj, i) => {
    const key = keyFromJson(group, kj, `keyfile.keys[${i}]`);
    const e = expectObject(entries[i], 'keyfile secret', ['keyId', 'x']);
    const x = group.scalars.decode(fromHex(expectString(e.x, 'x'), 'x'), 'x');
    if (!bytesEqual(fromHex(expectString(e.keyId, 'keyId'), 'keyId'), key.keyId) || !group.equals(group.exp(group.g, x), key.h)) {
      throw new EcashError('bad-keyfile', `${path}: the secret of key ${i} does not match its public key`);
    }
    return { key, x };
  });
}

function writeAtomically(path: string, file: KeyFileJson): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** A bank key file on disk (see the module comment). */
export class KeyFile implements BankKeyStore {
  private constructor(
    readonly path: string,
    private readonly file: KeyFileJson,
    private readonly passphrase: string,
  ) {}

  get suite(): SuiteId {
    return this.file.suite;
  }

  /** Creates a new key file with the given denominations; refuses to overwrite one. */
  static create(
    path: string,
    passphrase: string,
    suite: SuiteId = DEFAULT_SUITE,
    denominations: readonly DenominationTerms[] = [],
  ): KeyFile {
    if (existsSync(path)) throw new EcashError('keyfile-exists', `${path} already exists; a bank key file is never overwritten`);
    const group = getGroup(suite);
    const secrets = denominations.map((t) => generateDenominationKey(group, t, systemRandom));
    const file = seal(group, secrets, passphrase);
    writeAtomically(path, file);
    return new KeyFile(path, file, passphrase);
  }

  static open(path: string, passphrase: string): KeyFile {
    if (!existsSync(path)) throw new EcashError('keyfile-missing', `no bank key file at ${path}; create one with ecash bank init`);
    const file = parseFile(readFileSync(path, 'utf8'), path);
    unseal(file, passphrase, path); // fail now on a wrong passphrase, not at first use
    return new KeyFile(path, file, passphrase);
  }

  /**
   * The public keys of a key file, read without the passphrase (to list them). They are checked
   * (each key id matches its key) but not authenticated: only opening the file proves them unedited.
   */
  static publicKeysOf(path: string): KeyJson[] {
    if (!existsSync(path)) throw new EcashError('keyfile-missing', `no bank key file at ${path}; create one with ecash bank init`);
    const file = parseFile(readFileSync(path, 'utf8'), path);
    const group = getGroup(file.suite);
    return file.keys.map((k, i) => keyToJson(group, keyFromJson(group, k, `keyfile.keys[${i}]`)));
  }

  /** The public keys, readable without unsealing. */
  publicKeys(): KeyJson[] {
    return this.file.keys;
  }

  loadSecrets(): DenominationSecret[] {
    return unseal(this.file, this.passphrase, this.path);
  }

  /** Key rotation: generates a new denomination key and rewrites the file (atomically). */
  addKey(terms: DenominationTerms): DenominationSecret {
    const group = getGroup(this.file.suite);
    const secrets = this.loadSecrets();
    const fresh = generateDenominationKey(group, terms, systemRandom);
    const next = seal(group, [...secrets, fresh], this.passphrase);
    writeAtomically(this.path, next);
    Object.assign(this.file, next);
    return fresh;
  }
}

/** A store over secrets already in memory (tests, benchmarks and the demo). */
export function memoryKeyStore(suite: SuiteId, secrets: readonly DenominationSecret[]): BankKeyStore {
  return { suite, loadSecrets: () => [...secrets] };
}
