/**
 * A bank's public parameters as a terminal needs them: its group and its denomination keys,
 * parsed once. Parsing a key builds a fixed-base table (tens of ms), so terminals that refresh
 * keys before every payment or load keep the parsed keys and only parse new ones.
 */
import {
  type DenominationKey,
  EcashError,
  fromHex,
  getGroup,
  type Group,
  type GroupElement,
  isSuiteId,
  keyFromJson,
  type KeyJson,
} from '../../core/index.js';
import type { ParametersJson } from './api-types.js';

/** Parsed keys by key id, parsed once per process (parsing a key is not free). */
export class KeyCache {
  private readonly byId = new Map<string, DenominationKey>();

  constructor(readonly group: Group) {}

  /** Parses the keys not seen before; returns all of `keys`, parsed, in order. */
  addJson(keys: readonly KeyJson[], what = 'keys'): DenominationKey[] {
    return keys.map((json, i) => {
      let key = typeof json === 'object' && json !== null ? this.byId.get(json.keyId) : undefined;
      if (key === undefined) {
        key = keyFromJson(this.group, json, `${what}[${i}]`);
        this.byId.set(json.keyId, key);
      }
      return key;
    });
  }

  get(keyIdHex: string): DenominationKey | undefined {
    return this.byId.get(keyIdHex);
  }
}

/** The bank's parameters as a terminal refreshes them: its group and its keys, each parsed once. */
export class ParsedParameters {
  private cache: KeyCache | undefined;

  /** Parses what is new in `params`; the suite may not change between calls. */
  update(params: ParametersJson): { group: Group; keys: DenominationKey[] } {
    // The bank's answer as it came over the wire: checked here, where a terminal first reads it.
    if (typeof params !== 'object' || params === null || !Array.isArray(params.keys)) {
      throw new EcashError('bank-protocol', "the bank's parameters are not an object with a list of keys");
    }
    if (!isSuiteId(params.suite)) throw new EcashError('bank-protocol', `the bank names an unknown suite "${String(params.suite)}"`);
    if (this.cache !== undefined && this.cache.group.suite !== params.suite) {
      throw new EcashError(
        'wrong-suite',
        `the bank changed its suite from ${this.cache.group.suite} to ${params.suite}; this terminal's journal belongs to the old one`,
      );
    }
    const cache = (this.cache ??= new KeyCache(getGroup(params.suite)));
    return { group: cache.group, keys: cache.addJson(params.keys, 'parameters.keys') };
  }
}

/** The strict decoders of the API's hex fields (group elements, scalars): the bank's edge and its clients. */
export function decodeElementHex(group: Group, hex: string, what: string): GroupElement {
  return group.decode(fromHex(hex, what, group.elementLength), what);
}

export function decodeScalarHex(group: Group, hex: string, what: string): bigint {
  return group.scalars.decode(fromHex(hex, what, group.scalarLength), what);
}
