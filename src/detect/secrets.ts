// The secrets pack: API keys and tokens by their published prefixes, private keys, JWTs,
// credentials in URLs and connection strings, and secrets by context. Formats are the
// vendors' (and gitleaks' rules'); each prefixed format also requires its random part to
// look random, so placeholders (`ghp_xxxx…`) are not reported. They read the original text
// (exact bytes: view 'original').

import { TOKEN_IN_TEXT } from '../enforce/tokenize.js';
import type { Finder } from './context.js';
import { eachMatch, emitByContext, prefixed, randomLooking } from './spec.js';
import type { BuiltinSpec, NumberCandidate } from './spec.js';
import { charClasses, jwtHeaderValid, shannonEntropy } from './validators.js';

function compilePrivateKey(): Finder {
  const begin = /-----BEGIN ((?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?)-----/g;
  const body = /[A-Za-z0-9+/=\s:,\\-]{0,32768}/y;
  const MAX_BLOCK = 32768;
  return (env, emit) => {
    const text = env.text;
    // Labels with no END marker anywhere after some point: later BEGINs need not look again.
    const noEnd = new Set<string>();
    eachMatch(begin, env.parts, (m) => {
      const after = m.index + m[0].length;
      const endMarker = `-----END ${m[1]}-----`;
      const e = noEnd.has(endMarker) ? -1 : text.indexOf(endMarker, after);
      if (e < 0) noEnd.add(endMarker);
      if (e >= 0 && e - after <= MAX_BLOCK) {
        emit(m.index, e + endMarker.length, 0.99);
        begin.lastIndex = e + endMarker.length;
        return;
      }
      // Truncated block: the header and the base64 that follows still leak the key.
      body.lastIndex = after;
      const b = body.exec(text);
      let end = after + (b?.[0].length ?? 0);
      while (end > after && /\s/.test(text[end - 1] as string)) end--;
      emit(m.index, end, 0.9);
      begin.lastIndex = Math.max(end, after);
    });
  };
}

function compileJwt(): Finder {
  const re =
    /(?<![A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,2048})\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,2048}(?![A-Za-z0-9_-])/g;
  return (env, emit) => {
    eachMatch(re, env.parts, (m) => {
      if (jwtHeaderValid(m[1] as string)) emit(m.index, m.index + m[0].length, 0.95);
    });
  };
}

const SECRET_WORDS = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api key',
  'apikey',
  'access key',
  'private key',
  'client secret',
  'credential',
  'auth token',
  'authorization',
  'bearer',
];

/** A token callguard made (tokenize): it stands for a value, it is no secret of its own. */
const OUR_TOKEN = new RegExp(`^${TOKEN_IN_TEXT.source}$`);

function compileGenericSecret(): Finder {
  // "<secret word>[suffix] [is|:|=|=>] [quote]<token>"; the token is group 1, at the end.
  // The word may end an identifier (`DB_PASSWORD=`, `aws_secret_access_key=`) but not stand
  // inside a word; a separator (space, quote, `:` or `=`) follows it (`${DB_PASSWORD}@host`
  // is a placeholder).
  const near =
    /(?:password|passwd|pwd|passphrase|secret|token|api[_ -]?key|apikey|access[_ -]?key|private[_ -]?key|client[_ -]?secret|credentials?|auth[_ -]?token|authorization|bearer)[A-Za-z0-9_-]{0,32}(?=[\s"'`:=])["'`]?\s{0,3}(?:[:=]|=>|is|was)?\s{0,3}["'`]?([^\s"'`,;]{8,512})/gi;
  const scheme = /^(?:bearer|basic|token)\s+/i;
  return (env, emit) => {
    const text = env.text;
    if (env.keyContext) {
      // The whole value of a "password"/"api_key"/… field, less an auth scheme.
      const lead = text.length - text.trimStart().length;
      let start = lead;
      const end = text.trimEnd().length;
      const sm = scheme.exec(text.slice(start, end));
      if (sm) start += sm[0].length;
      const v = text.slice(start, end);
      const whole =
        v.length >= 8 &&
        v.length <= 1024 &&
        !/\s/.test(v) &&
        !v.includes('://') &&
        !OUR_TOKEN.test(v);
      if (whole && randomLooking(v, 2.5)) return emit(start, end, 0.9);
    }
    near.lastIndex = 0;
    for (let m = near.exec(text); m !== null; m = near.exec(text)) {
      // Not inside a word (`xpassword`); checked here, not by a leading look-behind, which
      // the regex engine would try at every position of the text.
      const before = m.index > 0 ? text.charCodeAt(m.index - 1) : 0;
      if (isAlnum(before)) {
        near.lastIndex = m.index + 1;
        continue;
      }
      let tok = m[1] as string;
      const start = m.index + m[0].length - tok.length;
      tok = tok.replace(/[.)\]}>]+$/, '');
      if (tok.length < 12 || tok.includes('://') || OUR_TOKEN.test(tok)) continue;
      // Code, not a credential: `TOKEN_RE = /^tok_([a-z0-9]{1,24})…/`.
      if ((tok.match(/[()[\]{}<>]/g)?.length ?? 0) >= 2) continue;
      if (randomLooking(tok, 3)) emit(start, start + tok.length, 0.8);
    }
  };
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Upper and lower case, and the entropy of random base64 (hashes are hex: one case). */
function base64Random(s: string): boolean {
  return /[A-Z]/.test(s) && /[a-z]/.test(s) && shannonEntropy(s) >= 4;
}

function compileAwsSecretKey(): Finder {
  // 40 characters of base64 beside "aws_secret_access_key" and its like.
  const re = /(?<![A-Za-z0-9/+_-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])/g;
  return (env, emit) => {
    if (!env.anyContext()) return;
    const found: NumberCandidate[] = [];
    eachMatch(re, env.parts, (m) => {
      if (base64Random(m[0]))
        found.push({ start: m.index, end: m.index + 40, plain: undefined, withContext: 0.9 });
    });
    emitByContext(env, emit, found);
  };
}

function compileAzureStorageKey(): Finder {
  // The key of a connection string (`AccountKey=…;`, `SharedAccessKey=…`), or 88 characters
  // of base64 (a storage account key) beside "account key" and its like.
  const inString =
    /(?<![A-Za-z0-9])(?:AccountKey|SharedAccessKey|AccessKey)=([A-Za-z0-9+/]{20,120}={0,2})(?![A-Za-z0-9+/=])/g;
  const bare = /(?<![A-Za-z0-9/+_-])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9/+=_-])/g;
  return (env, emit) => {
    // The whole text, not the digit windows: an 88-character key may hold a digit at one end.
    const whole = [{ from: 0, text: env.text }];
    eachMatch(inString, whole, (m) => {
      const key = m[1] as string;
      const start = m.index + m[0].length - key.length;
      if (base64Random(key)) emit(start, start + key.length, 0.95);
    });
    if (!env.anyContext()) return;
    const found: NumberCandidate[] = [];
    eachMatch(bare, whole, (m) => {
      if (base64Random(m[0]))
        found.push({ start: m.index, end: m.index + 88, plain: undefined, withContext: 0.9 });
    });
    emitByContext(env, emit, found);
  };
}

function compileDatadogKey(): Finder {
  // API keys are 32 hex digits, application keys 40: only beside "datadog" or a DD_ key.
  const re = /(?<![A-Za-z0-9_-])(?:[a-f0-9]{40}|[a-f0-9]{32})(?![A-Za-z0-9_-])/g;
  return (env, emit) => {
    if (!env.anyContext()) return;
    const found: NumberCandidate[] = [];
    eachMatch(re, env.parts, (m) => {
      if (charClasses(m[0]) === 2 && shannonEntropy(m[0]) >= 3)
        found.push({
          start: m.index,
          end: m.index + m[0].length,
          plain: undefined,
          withContext: 0.9,
        });
    });
    emitByContext(env, emit, found);
  };
}

/** A password that stands for one: `****`, `<password>`, `${DB_PASS}`, `%s`, `password`. */
const PLACEHOLDER =
  /^(?:\*+|x+|\.+|_+|-+|password|passwd|pass|pwd|secret|changeme|<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{?[^}]*\}?\}|%[sd]|\[[^\]]*\])$/i;

function compileUrlCredentials(): Finder {
  // scheme://user:password@host: the password (group 1) is the secret.
  const re =
    /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,24}:\/\/[^\s:/?#@"'<>\\]{1,128}:([^\s/?#@"'<>\\]{1,256})@(?=[A-Za-z0-9[])/g;
  return (env, emit) => {
    eachMatch(re, env.parts, (m) => {
      const pw = m[1] as string;
      if (PLACEHOLDER.test(pw)) return;
      const end = m.index + m[0].length - 1;
      emit(end - pw.length, end, 0.95);
    });
  };
}

// ---------------------------------------------------------------------------- the table

const KEY = {
  view: 'original',
  level: 'restricted',
  packs: ['secrets'],
  contextRule: 'none',
} as const;

export const SECRETS: readonly BuiltinSpec[] = [
  {
    ...KEY,
    id: 'aws_access_key',
    requires: ['A'],
    longToken: true,
    description: 'AWS access key id (AKIA…, ASIA…)',
    context: [],
    validator: 'prefix, base-32 body, randomness',
    example: '`AKIA` + 16 of `A-Z2-7`',
    guards: 'lower-case look-alikes, placeholders',
    compile: prefixed(
      /(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AROA|ANPA|ANVA|APKA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
      (m) => m[0].slice(4),
      0.95,
      3,
      /[A-Za-z0-9]/,
    ),
  },
  {
    ...KEY,
    id: 'aws_secret_key',
    needsDigit: true,
    longToken: true,
    description: 'AWS secret access key: 40 characters of base64 beside its name',
    context: [
      'aws secret access key',
      'aws secret key',
      'secret access key',
      'aws secret',
      'secretaccesskey',
    ],
    contextRule: 'required',
    validator: 'both cases, entropy ≥ 4 bits/char',
    example: '`aws_secret_access_key=` + 40 of `A-Za-z0-9/+`',
    guards: 'git SHAs and other hex hashes, base64 of one case, any 40 characters without context',
    compile: compileAwsSecretKey,
  },
  {
    ...KEY,
    id: 'github_token',
    requires: ['_'],
    longToken: true,
    description: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)',
    context: [],
    validator: 'prefix, length, randomness',
    example: '`ghp_` + 36 alphanumerics',
    guards: 'placeholders (`ghp_xxxx…`)',
    compile: prefixed(
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/g,
      (m) => m[0].slice(m[0].indexOf('_') + 1),
    ),
  },
  {
    ...KEY,
    id: 'gitlab_token',
    requires: ['-'],
    longToken: true,
    description: 'GitLab token (glpat-, gldt-, glrt-, glptt-, glft-, glsoat-, gloas-)',
    context: [],
    validator: 'prefix, length, randomness',
    example: '`glpat-` + 20 of `A-Za-z0-9_-`',
    guards: 'placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])(?:glpat|gldt|glrt|glptt|glft|glsoat|gloas|glcbt)-[A-Za-z0-9_-]{20,300}(?![A-Za-z0-9_-])/g,
      (m) => m[0].slice(m[0].indexOf('-') + 1),
    ),
  },
  {
    ...KEY,
    id: 'stripe_key',
    requires: ['_'],
    longToken: true,
    description: 'Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)',
    context: [],
    validator: 'prefix, randomness',
    example: '`sk_live_` + 24 alphanumerics',
    guards: 'publishable keys (`pk_live_…`), placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9_])/g,
      (m) => m[0].slice(8),
    ),
  },
  {
    ...KEY,
    id: 'openai_key',
    requires: ['-'],
    longToken: true,
    description: 'OpenAI-style API key (sk-…, sk-proj-…, sk-svcacct-…)',
    context: [],
    validator: 'prefix, randomness',
    example: '`sk-proj-` + 20 or more of `A-Za-z0-9_-`',
    guards: 'Anthropic keys (own detector), placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
      (m) => m[0].replace(/^sk-(?:proj-|svcacct-|admin-)?/, ''),
    ),
  },
  {
    ...KEY,
    id: 'anthropic_key',
    requires: ['-ant-'],
    longToken: true,
    description: 'Anthropic API key (sk-ant-api03-…, sk-ant-admin01-…)',
    context: [],
    validator: 'prefix, randomness',
    example: '`sk-ant-api03-` + 20 or more of `A-Za-z0-9_-`',
    guards: 'placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
      (m) => m[0].replace(/^sk-ant-[a-z]+\d{2}-/, ''),
    ),
  },
  {
    ...KEY,
    id: 'slack_token',
    requires: ['xox'],
    longToken: true,
    description: 'Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-)',
    context: [],
    validator: 'prefix, randomness',
    example: '`xoxb-` + digits and letters',
    guards: 'placeholders',
    compile: prefixed(/(?<![A-Za-z0-9-])xox[abprs]-[A-Za-z0-9-]{11,250}(?![A-Za-z0-9-])/g, (m) =>
      m[0].slice(5),
    ),
  },
  {
    ...KEY,
    id: 'slack_webhook',
    requires: ['.slack.com/'],
    longToken: true,
    description: 'Slack incoming-webhook URL (hooks.slack.com/services/…)',
    context: [],
    validator: 'host and path shape, randomness of the path',
    example: '`https://hooks.slack.com/services/T…/B…/…`',
    guards: 'the bare host, documentation placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9])(?:https?:\/\/)?hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20,150}/g,
      (m) => m[0].slice(m[0].indexOf('.com/') + 5),
    ),
  },
  {
    ...KEY,
    id: 'google_api_key',
    requires: ['AIza'],
    longToken: true,
    description: 'Google API key (AIza…)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`AIza` + 35 of `A-Za-z0-9_-`',
    guards: 'placeholders, other lengths',
    compile: prefixed(/(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g, (m) =>
      m[0].slice(4),
    ),
  },
  {
    ...KEY,
    id: 'google_oauth_secret',
    requires: ['GOCSPX-'],
    longToken: true,
    description: 'Google OAuth client secret (GOCSPX-…)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`GOCSPX-` + 28 of `A-Za-z0-9_-`',
    guards: 'placeholders',
    compile: prefixed(/(?<![A-Za-z0-9_-])GOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/g, (m) =>
      m[0].slice(7),
    ),
  },
  {
    ...KEY,
    id: 'azure_storage_key',
    needsDigit: true,
    longToken: true,
    description:
      'Azure storage account / Service Bus key: AccountKey= / SharedAccessKey= in a connection string, or 88 characters of base64 beside its name',
    context: ['account key', 'storage key', 'storage account key', 'azure storage', 'accountkey'],
    contextRule: 'required for a bare key; none in a connection string',
    validator: 'base64 with both cases, entropy ≥ 4 bits/char',
    example: '`…;AccountKey=` + 86 of base64 + `==;…`',
    guards: 'base64 of one case, hashes, bare keys without context',
    compile: compileAzureStorageKey,
  },
  {
    ...KEY,
    id: 'twilio_key',
    requires: ['SK'],
    longToken: true,
    description: 'Twilio API key (SK + 32 hex digits)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`SK` + 32 hex digits',
    guards: 'longer hex runs, placeholders',
    compile: prefixed(/(?<![A-Za-z0-9])SK[0-9a-fA-F]{32}(?![A-Za-z0-9])/g, (m) => m[0].slice(2)),
  },
  {
    ...KEY,
    id: 'sendgrid_key',
    requires: ['SG.'],
    longToken: true,
    description: 'SendGrid API key (SG.<22>.<43>)',
    context: [],
    validator: 'prefix, part lengths, randomness',
    example: '`SG.` + 22 + `.` + 43 of `A-Za-z0-9_-`',
    guards: 'placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
      (m) => m[0].slice(3),
    ),
  },
  {
    ...KEY,
    id: 'mailgun_key',
    requires: ['-'],
    needsDigit: true,
    longToken: true,
    description: 'Mailgun API key (key-…, pubkey-…) or webhook signing key (32-8-8 hex)',
    context: [],
    validator: 'prefix or shape, randomness',
    example: '`key-` + 32 hex digits',
    guards: 'UUIDs (8-4-4-4-12), placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])(?:(?:pub)?key-[a-f0-9]{32}|[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})(?![A-Za-z0-9_-])/g,
      (m) => m[0].slice(m[0].indexOf('-') + 1),
    ),
  },
  {
    ...KEY,
    id: 'npm_token',
    requires: ['_'],
    longToken: true,
    description: 'npm access token (npm_ + 36)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`npm_` + 36 alphanumerics',
    guards: 'placeholders',
    compile: prefixed(/(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g, (m) =>
      m[0].slice(4),
    ),
  },
  {
    ...KEY,
    id: 'pypi_token',
    requires: ['pypi-'],
    longToken: true,
    description: 'PyPI upload token (pypi-AgEIcHlwaS5vcmc…)',
    context: [],
    validator: 'prefix (a macaroon for pypi.org), length',
    example: '`pypi-AgEIcHlwaS5vcmc` + 50 or more of `A-Za-z0-9_-`',
    guards: 'placeholders',
    compile: prefixed(
      /(?<![A-Za-z0-9_-])pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}(?![A-Za-z0-9_-])/g,
      (m) => m[0].slice(20),
    ),
  },
  {
    ...KEY,
    id: 'huggingface_token',
    requires: ['_'],
    longToken: true,
    description: 'Hugging Face access token (hf_…, api_org_…)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`hf_` + 34 letters',
    guards: 'placeholders, identifiers in snake_case',
    compile: prefixed(/(?<![A-Za-z0-9_])(?:hf|api_org)_[A-Za-z]{34}(?![A-Za-z0-9_])/g, (m) =>
      m[0].slice(m[0].lastIndexOf('_') + 1),
    ),
  },
  {
    ...KEY,
    id: 'datadog_key',
    needsDigit: true,
    longToken: true,
    description: 'Datadog API (32 hex) or application (40 hex) key beside its name',
    context: [
      'datadog',
      'dd api key',
      'dd app key',
      'dd application key',
      'datadog api key',
      'dd apikey',
    ],
    contextRule: 'required',
    validator: 'hex with letters and digits',
    example: '`DD_API_KEY=` + 32 hex digits',
    guards: 'hex hashes and ids anywhere else',
    compile: compileDatadogKey,
  },
  {
    ...KEY,
    id: 'digitalocean_token',
    requires: ['_v1_'],
    longToken: true,
    description: 'DigitalOcean token (dop_v1_, doo_v1_, dor_v1_ + 64 hex)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`dop_v1_` + 64 hex digits',
    guards: 'placeholders',
    compile: prefixed(/(?<![A-Za-z0-9_])do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9_])/g, (m) =>
      m[0].slice(7),
    ),
  },
  {
    ...KEY,
    id: 'shopify_token',
    requires: ['_'],
    longToken: true,
    description: 'Shopify access token or shared secret (shpat_, shpca_, shppa_, shpss_)',
    context: [],
    validator: 'prefix, exact length, randomness',
    example: '`shpat_` + 32 hex digits',
    guards: 'placeholders',
    compile: prefixed(/(?<![A-Za-z0-9_])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![A-Za-z0-9_])/g, (m) =>
      m[0].slice(6),
    ),
  },
  {
    ...KEY,
    id: 'url_credentials',
    requires: ['://', '@'],
    description:
      'Password in a URL (database, broker, HTTP): scheme://user:password@host — the password',
    context: [],
    validator: 'URL userinfo shape; placeholders refused',
    example: 'postgres://billing:Zx81-qP4vW@db.internal:5432/billing',
    guards:
      '`user@host` without a password, `${DB_PASS}`, `<password>`, `****`, `password`, ports (`host:5432`)',
    compile: compileUrlCredentials,
  },
  {
    ...KEY,
    id: 'private_key',
    requires: ['-----BEGIN '],
    description: 'PEM private key block (-----BEGIN … PRIVATE KEY----- … END), truncated ones too',
    context: [],
    validator: 'matching END marker within 32 KiB, else header and base64 body',
    example: '`-----BEGIN RSA PRIVATE KEY-----` … `-----END RSA PRIVATE KEY-----`',
    guards: 'public keys and certificates (`BEGIN PUBLIC KEY`, `BEGIN CERTIFICATE`)',
    compile: compilePrivateKey,
  },
  {
    ...KEY,
    id: 'jwt',
    requires: ['.ey'],
    longToken: true,
    description: 'JSON Web Token: three base64url parts whose header decodes to JSON with "alg"',
    context: [],
    validator: 'the header decodes to a JSON object with a string `alg`',
    example: '`eyJhbGciOi…` `.` payload `.` signature',
    guards: 'dotted base64 that is not a JWT header',
    compile: compileJwt,
  },
  {
    ...KEY,
    id: 'secret',
    generic: true,
    description:
      'Generic secret: a high-entropy token after a secret word (password, token, api_key…) or under such a key',
    context: SECRET_WORDS,
    antiContext: ['page', 'cursor', 'continuation', 'pagination'],
    contextRule: 'required (the secret word before the value, or the key name)',
    validator: 'two of lower/upper/digits, entropy ≥ 3 bits/char (≥ 2.5 for a whole field)',
    example: 'password: Tr0ub4dor&3xyzzy',
    guards:
      'plain words after a secret word, URLs, code (two or more brackets), `Bearer` alone, page tokens and cursors',
    compile: compileGenericSecret,
  },
];
