/**
 * A bank's public parameters as a terminal needs them: its group and its denomination keys,
 * parsed once. Parsing a key builds a fixed-base table (tens of ms), so terminals that refresh
 * keys before every payment or load keep the parsed keys and only parse new ones.
 */
import { type DenominationKey, EcashError, getGroup, type Group, isSuiteId, keyFromJson } from '../../core/index.js';
import type { ParametersJson } from './api-types.js';

export class ParsedParameters {
  private group: Group | undefined;
  private readonly keys = new Map<string, DenominationKey>();

  /** Parses what is new in `params`; the suite may not change between calls. */
  update(params: ParametersJson): { group: Group; keys: DenominationKey[] } {
    if (!isSuiteId(params.suite)) throw new EcashError('bank-protocol', `the bank names an unknown suite "${String(params.suite)}"`);
    if (this.group !== undefined && this.group.suite !== params.suite) {
      throw new EcashError('wrong-suite', `the bank changed its suite from ${this.group.suite} to ${params.suite}; this terminal's journal belongs to the old one`);
    }
    const group = (this.group ??= getGroup(params.suite));
    const current: DenominationKey[] = [];
    params.keys.forEach((json, i) => {
      let key = this.keys.get(json.keyId);
      if (key === undefined) {
        key = keyFromJson(group, json, `parameters.keys[${i}]`);
        this.keys.set(json.keyId, key);
      }
      current.push(key);
    });
    return { group, keys: current };
  }
}
