// Value fingerprints: a keyed HMAC-SHA-256 of a finding's value, so an auditor can find
// every session that carried a value ("who sent this SSN?") without the value ever being
// stored. The key id is part of the fingerprint (`<key id>:<base64url digest>`), so keys
// rotate: new records use the current key, searches try every configured key.

import { createHmac } from 'node:crypto';
import { ConfigError, readSecret } from '../config/config.js';
import type { FingerprintKeyConfig } from '../config/config.js';

export class FingerprintKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FingerprintKeyError';
  }
}

interface Key {
  id: string;
  secret: Buffer;
}

export class Fingerprinter {
  private readonly keys: Key[];
  private readonly current: Key;

  constructor(keys: readonly Key[], currentId: string) {
    const current = keys.find((k) => k.id === currentId);
    if (!current) throw new TypeError('current fingerprint key is not among the keys');
    this.keys = [...keys];
    this.current = current;
  }

  /** Loads secrets from the configuration (inline, environment variable or file). */
  static fromConfig(
    cfg: { current?: string; keys: FingerprintKeyConfig[] },
    env: NodeJS.ProcessEnv = process.env,
  ): Fingerprinter | undefined {
    if (cfg.keys.length === 0) return undefined;
    const keys = cfg.keys.map((k): Key => {
      let text: string | undefined;
      try {
        text = readSecret(k, `fingerprint key ${k.id}`, env);
      } catch (e) {
        if (e instanceof ConfigError) throw new FingerprintKeyError(e.message);
        throw e;
      }
      if (text === undefined || Buffer.byteLength(text) < 16) {
        throw new FingerprintKeyError(
          `fingerprint key ${k.id}: secret missing or shorter than 16 bytes`,
        );
      }
      return { id: k.id, secret: Buffer.from(text, 'utf8') };
    });
    return new Fingerprinter(keys, cfg.current ?? keys[0]!.id);
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  /** The fingerprint under the current key. */
  of(value: string): string {
    return digest(this.current, value);
  }

  /** The fingerprints under every configured key (for searching across rotations). */
  all(value: string): string[] {
    return this.keys.map((k) => digest(k, value));
  }
}

function digest(k: Key, value: string): string {
  return `${k.id}:${createHmac('sha256', k.secret).update(value, 'utf8').digest('base64url')}`;
}
