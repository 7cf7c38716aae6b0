// Secrets named by configuration (token keys, fingerprint keys, the webhook secret, OIDC
// client secrets): one schema fragment says how every one of them may be given, and one
// reader reads them once at start, from a variable or a file. Errors name the key and the
// source, never the secret.

import { readFileSync } from 'node:fs';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * The name of an environment variable holding a secret: upper case, digits and `_`, as POSIX
 * shells write them. One rule for every secret, so a typo (`my-key`, a lower-case name that
 * a shell would not export) is refused at load instead of surfacing as an unset variable.
 */
export const ENV_NAME_PATTERN = '^[A-Z_][A-Z0-9_]*$';

const nonEmpty = { type: 'string', minLength: 1 } as const;
const envName = { type: 'string', pattern: ENV_NAME_PATTERN } as const;

/** The three keys of a secret source, e.g. `client_secret`, `client_secret_env`, `client_secret_file`. */
type Keys<P extends string> = readonly [`${P}secret`, `${P}secret_env`, `${P}secret_file`];
type SourceProperties<P extends string> = {
  readonly [K in Keys<P>[number]]: K extends `${P}secret_env` ? typeof envName : typeof nonEmpty;
};

function keys<P extends string>(prefix: P): Keys<P> {
  return [`${prefix}secret`, `${prefix}secret_env`, `${prefix}secret_file`] as const;
}

function sourceProperties<P extends string>(prefix: P): SourceProperties<P> {
  const [inline, env, file] = keys(prefix);
  // Computed keys widen to `string`: the mapped type above restores what the object is.
  return { [inline]: nonEmpty, [env]: envName, [file]: nonEmpty } as SourceProperties<P>;
}

/**
 * The schema of a secret that must be configured: `properties` and `oneOf` to spread into the
 * object holding it. Inline `<prefix>secret` is for development and tests; `_env` names a
 * variable, `_file` a file (relative to the configuration file).
 */
export function requiredSecret<P extends string>(prefix: P) {
  const [inline, env, file] = keys(prefix);
  return {
    properties: sourceProperties(prefix),
    oneOf: [{ required: [inline] }, { required: [env] }, { required: [file] }],
  } as const;
}

/** The schema of a secret that may be absent: at most one of the three keys. */
export function optionalSecret<P extends string>(prefix: P) {
  const [inline, env, file] = keys(prefix);
  return {
    properties: sourceProperties(prefix),
    not: {
      anyOf: [{ required: [inline, env] }, { required: [inline, file] }, { required: [env, file] }],
    },
  } as const;
}

/** Where a configured secret comes from: inline (tests only), a variable, or a file. */
export interface SecretSource {
  secret?: string | undefined;
  secret_env?: string | undefined;
  secret_file?: string | undefined;
}

/** The source under keys with a prefix (`client_` for `client_secret_env` …) as a SecretSource. */
export function prefixedSource<P extends string>(
  o: Partial<Record<Keys<P>[number], string>>,
  prefix: P,
): SecretSource {
  const [inline, env, file] = keys(prefix);
  return { secret: o[inline], secret_env: o[env], secret_file: o[file] };
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
    // Also here for sources built without the schema (the name is not secret).
    if (!new RegExp(ENV_NAME_PATTERN).test(src.secret_env))
      throw new ConfigError(`${what}: secret_env must match ${ENV_NAME_PATTERN}`);
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
