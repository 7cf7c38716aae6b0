// Secrets named by configuration (token keys, fingerprint keys, the webhook secret, OIDC
// client secrets): read once at start, from a variable or a file. Errors name the key and
// the source, never the secret.

import { readFileSync } from 'node:fs';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Where a configured secret comes from: inline (tests only), a variable, or a file. */
export interface SecretSource {
  secret?: string | undefined;
  secret_env?: string | undefined;
  secret_file?: string | undefined;
}

/**
 * The text of a configured secret (a file's content trimmed), or undefined when no source is
 * set. ConfigError names the key and the source, never the secret: more than one source, an
 * unset variable, an unreadable file.
 */
export function readSecret(
  src: SecretSource,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const sources = [src.secret, src.secret_env, src.secret_file].filter((x) => x !== undefined);
  if (sources.length > 1)
    throw new ConfigError(`${what}: set only one of secret, secret_env and secret_file`);
  if (src.secret !== undefined) return src.secret;
  if (src.secret_env !== undefined) {
    const v = env[src.secret_env];
    if (v === undefined || v === '')
      throw new ConfigError(`${what}: $${src.secret_env} is not set`);
    return v.trim();
  }
  if (src.secret_file !== undefined) {
    try {
      return readFileSync(src.secret_file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(
        `${what}: cannot read secret_file (${(e as NodeJS.ErrnoException).code})`,
      );
    }
  }
  return undefined;
}
