// Stateless, deterministic, reversible tokens: `tok_<kind>_<keyid>_<payload>`.
//
// The payload is AES-256-GCM of the value under an encryption key, with a synthetic IV:
// the IV is HMAC-SHA-256(mac key, kind ‖ 0x00 ‖ value), truncated to 96 bits (the SIV
// construction of RFC 5297, with GCM as the cipher). So the same value, kind and key
// always give the same token (a model can still see that two values are equal), any
// replica holding the key can reverse it, and no vault or shared state exists. On reversal
// the IV is recomputed from the decrypted value and compared: together with the GCM tag,
// a token altered in any byte is refused. The kind and key id are authenticated (AAD), so
// a card token cannot be passed off as an SSN token.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';

export interface TokenKey {
  /** Short id embedded in tokens, so keys can rotate: `[a-z0-9]{1,8}`. */
  id: string;
  /** At least 32 bytes of secret material. */
  secret: Uint8Array;
}

interface DerivedKey {
  id: string;
  enc: Buffer;
  mac: Buffer;
}

const TOKEN_RE = /^tok_([a-z0-9]{1,24})_([a-z0-9]{1,8})_([A-Za-z0-9_-]{38,})$/;
/** Tokens as they appear inside text. */
export const TOKEN_IN_TEXT = /tok_[a-z0-9]{1,24}_[a-z0-9]{1,8}_[A-Za-z0-9_-]{38,}/g;

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

function derive(k: TokenKey): DerivedKey {
  if (!/^[a-z0-9]{1,8}$/.test(k.id)) throw new TypeError('token key id must match [a-z0-9]{1,8}');
  if (k.secret.length < 32) throw new TypeError('token key secret must be at least 32 bytes');
  const d = (info: string) =>
    Buffer.from(hkdfSync('sha256', k.secret, 'callguard-token', info, 32));
  return { id: k.id, enc: d('enc'), mac: d('mac') };
}

export class Tokenizer {
  private readonly current: DerivedKey;
  private readonly byId: Map<string, DerivedKey>;

  /** `keys[0]` makes new tokens; all of them can reverse tokens. */
  constructor(keys: readonly TokenKey[]) {
    if (keys.length === 0) throw new TypeError('at least one token key is needed');
    const derived = keys.map(derive);
    this.current = derived[0] as DerivedKey;
    this.byId = new Map(derived.map((k) => [k.id, k]));
  }

  tokenize(value: string, kind: string): string {
    if (!/^[a-z0-9]{1,24}$/.test(kind)) throw new TypeError('token kind must match [a-z0-9]{1,24}');
    const k = this.current;
    const plain = Buffer.from(value, 'utf8');
    const iv = this.iv(k, kind, plain);
    const c = createCipheriv('aes-256-gcm', k.enc, iv);
    c.setAAD(Buffer.from(`${kind}\0${k.id}`));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return `tok_${kind}_${k.id}_${Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url')}`;
  }

  /** True when `text` is, whole, a token one of our keys made (and it verifies). */
  owns(text: string): boolean {
    if (!text.startsWith('tok_')) return false;
    try {
      this.detokenize(text);
      return true;
    } catch (e) {
      if (e instanceof TokenError) return false;
      throw e;
    }
  }

  /** The value and kind of a token; TokenError for anything not made by our keys. */
  detokenize(token: string): { value: string; kind: string } {
    const m = TOKEN_RE.exec(token);
    if (!m) throw new TokenError('not a token');
    const [, kind, id, payload] = m as unknown as [string, string, string, string];
    const k = this.byId.get(id);
    if (!k) throw new TokenError('token key is unknown');
    const raw = Buffer.from(payload, 'base64url');
    if (raw.length < 12 + 16 || raw.toString('base64url') !== payload)
      throw new TokenError('token is malformed');
    const iv = raw.subarray(0, 12);
    const d = createDecipheriv('aes-256-gcm', k.enc, iv);
    d.setAAD(Buffer.from(`${kind}\0${k.id}`));
    d.setAuthTag(raw.subarray(raw.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
    } catch {
      throw new TokenError('token does not verify');
    }
    if (!timingSafeEqual(iv, this.iv(k, kind, plain)))
      throw new TokenError('token does not verify');
    return { value: plain.toString('utf8'), kind };
  }

  private iv(k: DerivedKey, kind: string, plain: Buffer): Buffer {
    return createHmac('sha256', k.mac)
      .update(kind)
      .update('\0')
      .update(plain)
      .digest()
      .subarray(0, 12);
  }
}
