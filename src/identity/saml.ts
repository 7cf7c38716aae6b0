// SAML 2.0 bearer assertions carried in a request header (base64 of one <saml:Assertion>).
// This is an enforcement point, so every step fails closed:
//   1. input hygiene: base64 (standard or url-safe), a size cap, strict UTF-8, no DOCTYPE, no
//      control characters, and xmldom configured to throw on any warning or error;
//   2. structure, before any cryptography: the root is the one and only Assertion in the
//      document, it carries exactly one ds:Signature as its direct child (right after Issuer),
//      whose single Reference points at the root's ID (unique in the document) with exactly the
//      transforms enveloped-signature + exclusive c14n, and whose algorithms are on an
//      allow-list (no SHA-1);
//   3. the signature, checked by xml-crypto against the configured IdP keys only (KeyInfo in the
//      document is ignored), with xml-crypto's algorithm tables narrowed to the allow-list;
//   4. the claims, read ONLY from the XML xml-crypto returns as signed (getSignedReferences),
//      re-parsed, so nothing outside the signed bytes (signature wrapping, comment injection)
//      can reach the Principal.
// Error messages name the check that failed and never carry any part of the assertion.

import { KeyObject, X509Certificate, createHash, verify as cryptoVerify } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import type { Document as XmlDocument, Element as XmlElement } from '@xmldom/xmldom';
import { SignedXml, createOptionalCallbackFunction } from 'xml-crypto';
import type { HashAlgorithm, SignatureAlgorithm } from 'xml-crypto';
import { CallguardError } from '../errors.js';
import type { Principal } from '../policy/types.js';

export interface SamlOptions {
  /** PEM certificates (or bare base64 DER) of the IdP signing keys. */
  certs: string[];
  /** Expected <Issuer> (the IdP entity id). */
  issuer: string;
  /** Expected <Audience> in <AudienceRestriction> (our SP entity id). */
  audience: string;
  /** Tolerance for NotBefore / NotOnOrAfter / IssueInstant. */
  clockSkewSeconds: number;
  /** Attribute Name whose values are the groups. */
  groupsAttribute: string;
  emailAttribute?: string;
  nameAttribute?: string;
  /** Refuse larger decoded assertions (default 64 KiB). */
  maxBytes?: number;
}

const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
const NS_MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';

const DEFAULT_MAX_BYTES = 64 * 1024;

/** Allowed SignatureMethod algorithms: key type and digest. */
const SIGNATURE_ALGORITHMS: Record<string, { keyType: 'rsa' | 'ec'; hash: string }> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { keyType: 'rsa', hash: 'sha256' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { keyType: 'rsa', hash: 'sha512' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': { keyType: 'ec', hash: 'sha256' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': { keyType: 'ec', hash: 'sha384' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': { keyType: 'ec', hash: 'sha512' },
};

/** Allowed DigestMethod algorithms. */
const DIGEST_ALGORITHMS: Record<string, string> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
};

/** Only the signature's transforms, in this order, are accepted. */
const REQUIRED_TRANSFORMS = [ENVELOPED, EXC_C14N];

const MIN_RSA_BITS = 2048;

// ---------------------------------------------------------------------------------------------
// Errors

const RULE = 'identity.saml';

const refuse = (message: string): CallguardError =>
  new CallguardError('unauthenticated', message, { rule: RULE });

/** Internal marker for a parse failure; its message is ours, never the parser's. */
class XmlRefusal extends Error {}

// ---------------------------------------------------------------------------------------------
// XML parsing and DOM helpers

/**
 * Parses XML strictly: no DOCTYPE (so no entities), no control characters, and xmldom throws on
 * every warning or error instead of logging. Throws XmlRefusal with a message of ours.
 */
function parseStrict(xml: string): XmlDocument {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new XmlRefusal('must not contain a DOCTYPE');
  }
  for (let i = 0; i < xml.length; i++) {
    const c = xml.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff) {
      throw new XmlRefusal('is not well-formed XML');
    }
  }
  let doc: XmlDocument;
  try {
    const parser = new DOMParser({
      locator: false,
      onError: (level) => {
        throw new Error(level);
      },
    });
    doc = parser.parseFromString(xml, 'text/xml');
  } catch {
    throw new XmlRefusal('is not well-formed XML');
  }
  if (!doc.documentElement) throw new XmlRefusal('is not well-formed XML');
  return doc;
}

const ELEMENT_NODE = 1;

function childElements(el: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE) out.push(n as XmlElement);
  }
  return out;
}

function children(el: XmlElement, ns: string, localName: string): XmlElement[] {
  return childElements(el).filter((c) => c.namespaceURI === ns && c.localName === localName);
}

/** All descendant elements (not the element itself) with this local name, in any namespace. */
function descendantsByLocalName(el: XmlElement | XmlDocument, localName: string): XmlElement[] {
  return Array.from(el.getElementsByTagNameNS('*', localName));
}

function is(el: XmlElement | null | undefined, ns: string, localName: string): el is XmlElement {
  return !!el && el.namespaceURI === ns && el.localName === localName;
}

function attr(el: XmlElement, name: string): string | undefined {
  return el.hasAttribute(name) ? (el.getAttribute(name) ?? undefined) : undefined;
}

function text(el: XmlElement): string {
  return (el.textContent ?? '').trim();
}

// A strict xs:dateTime; SAML requires UTC, but an explicit offset is interpreted correctly.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

function parseInstant(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = DATE_TIME.exec(value.trim());
  if (!m) throw refuse('SAML assertion timestamp is not valid');
  const frac = (m[7] ?? '').slice(0, 3).padEnd(3, '0');
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${frac}${m[8]}`);
  if (!Number.isFinite(ms)) throw refuse('SAML assertion timestamp is not valid');
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Keys and the algorithms handed to xml-crypto

function certificateDers(input: string): Buffer[] {
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  const blocks = [...input.matchAll(pem)].map((m) => m[1] ?? '');
  const bodies = blocks.length > 0 ? blocks : [input];
  return bodies.map((b) => {
    const body = b.replace(/\s+/g, '');
    if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      throw new Error('SAML IdP certificate is not PEM or base64 DER');
    }
    return Buffer.from(body, 'base64');
  });
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function signingKey(der: Buffer): KeyObject {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new Error('SAML IdP certificate is not a valid X.509 certificate');
  }
  const key = cert.publicKey;
  if (key.asymmetricKeyType === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
      throw new Error(`SAML IdP RSA key is shorter than ${MIN_RSA_BITS} bits`);
    }
  } else if (key.asymmetricKeyType !== 'ec') {
    throw new Error('SAML IdP certificate key type is not supported (RSA or EC only)');
  }
  return key;
}

/** A verify-only xml-crypto signature algorithm bound to one key type and digest. */
function signatureAlgorithm(uri: string, keyType: 'rsa' | 'ec', hash: string) {
  return class implements SignatureAlgorithm {
    getSignature = createOptionalCallbackFunction((_signedInfo: unknown, _key: unknown): string => {
      throw new Error('signing is not supported');
    });
    verifySignature = createOptionalCallbackFunction(
      (material: string, key: unknown, signatureValue: string): boolean => {
        if (!(key instanceof KeyObject) || key.type !== 'public') return false;
        if (key.asymmetricKeyType !== keyType) return false;
        try {
          const sig = Buffer.from(signatureValue.replace(/\s+/g, ''), 'base64');
          const data = Buffer.from(material, 'utf8');
          // XMLDSig ECDSA signatures are r || s (RFC 4050 / 6931), not DER.
          return keyType === 'ec'
            ? cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig)
            : cryptoVerify(hash, data, key, sig);
        } catch {
          return false;
        }
      },
    );
    getAlgorithmName = () => uri;
  };
}

function hashAlgorithm(uri: string, hash: string) {
  return class implements HashAlgorithm {
    getHash = (xml: string) => createHash(hash).update(xml, 'utf8').digest('base64');
    getAlgorithmName = () => uri;
  };
}

/** A SignedXml that verifies with this key only and knows only the allowed algorithms. */
function verifierFor(key: KeyObject): SignedXml {
  const sig = new SignedXml({ publicCert: key, getCertFromKeyInfo: () => null });
  const canon = sig.CanonicalizationAlgorithms;
  const excC14n = canon[EXC_C14N];
  const enveloped = canon[ENVELOPED];
  if (!excC14n || !enveloped) throw new Error('xml-crypto lacks exclusive c14n or enveloped');
  sig.CanonicalizationAlgorithms = { [EXC_C14N]: excC14n, [ENVELOPED]: enveloped };
  sig.SignatureAlgorithms = Object.fromEntries(
    Object.entries(SIGNATURE_ALGORITHMS).map(([uri, a]) => [
      uri,
      signatureAlgorithm(uri, a.keyType, a.hash),
    ]),
  );
  sig.HashAlgorithms = Object.fromEntries(
    Object.entries(DIGEST_ALGORITHMS).map(([uri, h]) => [uri, hashAlgorithm(uri, h)]),
  );
  return sig;
}

// ---------------------------------------------------------------------------------------------
// Input decoding

function decodeHeader(value: string, maxBytes: number): string {
  // Cheap bound before any work: base64 of maxBytes plus generous whitespace.
  if (value.length > Math.ceil((maxBytes * 4) / 3) * 2 + 1024) {
    throw refuse('SAML assertion is too large');
  }
  let b64 = value.replace(/\s+/g, '');
  if (/[-_]/.test(b64) && /[+/]/.test(b64))
    throw refuse('SAML assertion header is not valid base64');
  b64 = b64.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
    throw refuse('SAML assertion header is not valid base64');
  const body = b64.replace(/=+$/, '');
  if (
    body.length === 0 ||
    body.length % 4 === 1 ||
    (b64.length !== body.length && b64.length % 4 !== 0)
  ) {
    throw refuse('SAML assertion header is not valid base64');
  }
  if (Math.floor((body.length * 3) / 4) > maxBytes) throw refuse('SAML assertion is too large');
  const bytes = Buffer.from(body, 'base64');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw refuse('SAML assertion is not valid UTF-8');
  }
}

// ---------------------------------------------------------------------------------------------
// Structure of the document as received (before the signature is checked)

const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Returns the Assertion's ID and its one Signature element, or refuses. */
function checkStructure(doc: XmlDocument): { id: string; signature: XmlElement } {
  const root = doc.documentElement;
  if (!is(root, NS_SAML, 'Assertion'))
    throw refuse('SAML assertion root element is not an Assertion');
  if (descendantsByLocalName(doc, 'Assertion').length !== 1) {
    throw refuse('SAML assertion must contain exactly one Assertion');
  }
  if (descendantsByLocalName(doc, 'EncryptedAssertion').length !== 0) {
    throw refuse('SAML assertion must contain exactly one Assertion');
  }

  const id = attr(root, 'ID');
  if (id === undefined || !ID_PATTERN.test(id))
    throw refuse('SAML assertion ID is missing or not valid');
  // xml-crypto resolves a reference by any attribute named ID / Id / id, in any namespace.
  let holders = 0;
  for (const el of descendantsByLocalName(doc, '*')) {
    for (const a of Array.from(el.attributes)) {
      if (
        (a.localName === 'ID' || a.localName === 'Id' || a.localName === 'id') &&
        a.value === id
      ) {
        holders++;
      }
    }
  }
  if (holders !== 1) throw refuse('SAML assertion ID is not unique in the document');

  // xml-crypto looks SignedInfo up document-wide (for its ancestor namespaces): only one.
  if (descendantsByLocalName(doc, 'SignedInfo').length > 1) {
    throw refuse('SAML assertion must carry exactly one signature');
  }
  const signatures = descendantsByLocalName(doc, 'Signature');
  if (signatures.length === 0) throw refuse('SAML assertion is not signed');
  if (signatures.length !== 1) throw refuse('SAML assertion must carry exactly one signature');
  const signature = signatures[0] as XmlElement;
  if (!is(signature, NS_DS, 'Signature') || signature.parentNode !== root) {
    throw refuse('SAML assertion signature is not a direct child of the Assertion');
  }
  const rootChildren = childElements(root);
  if (!is(rootChildren[0], NS_SAML, 'Issuer') || rootChildren[1] !== signature) {
    throw refuse('SAML assertion signature is not placed after the Issuer');
  }

  // Signature = SignedInfo, SignatureValue, KeyInfo? (no Object: nothing else may hide in it).
  const sigChildren = childElements(signature);
  const layoutOk =
    is(sigChildren[0], NS_DS, 'SignedInfo') &&
    is(sigChildren[1], NS_DS, 'SignatureValue') &&
    (sigChildren.length === 2 ||
      (sigChildren.length === 3 && is(sigChildren[2], NS_DS, 'KeyInfo')));
  if (!layoutOk) throw refuse('SAML assertion signature is not well-formed');
  // xml-crypto finds some of these by local name anywhere under Signature: each must be unique.
  for (const name of [
    'SignedInfo',
    'SignatureValue',
    'CanonicalizationMethod',
    'SignatureMethod',
    'Reference',
  ]) {
    if (descendantsByLocalName(signature, name).length !== 1) {
      throw refuse('SAML assertion signature is not well-formed');
    }
  }
  const signedInfo = sigChildren[0] as XmlElement;
  const siChildren = childElements(signedInfo);
  const canonMethod = siChildren[0];
  const sigMethod = siChildren[1];
  const reference = siChildren[2];
  if (
    siChildren.length !== 3 ||
    !is(canonMethod, NS_DS, 'CanonicalizationMethod') ||
    !is(sigMethod, NS_DS, 'SignatureMethod') ||
    !is(reference, NS_DS, 'Reference')
  ) {
    throw refuse('SAML assertion signature is not well-formed');
  }
  if (attr(canonMethod, 'Algorithm') !== EXC_C14N) {
    throw refuse('SAML assertion signature canonicalization is not allowed');
  }
  if (!Object.hasOwn(SIGNATURE_ALGORITHMS, attr(sigMethod, 'Algorithm') ?? '')) {
    throw refuse('SAML assertion signature algorithm is not allowed');
  }
  if (attr(reference, 'URI') !== `#${id}`) {
    throw refuse('SAML assertion signature does not reference the Assertion');
  }
  const refChildren = childElements(reference);
  const transformsEl = refChildren[0];
  const digestMethod = refChildren[1];
  if (
    refChildren.length !== 3 ||
    !is(transformsEl, NS_DS, 'Transforms') ||
    !is(digestMethod, NS_DS, 'DigestMethod') ||
    !is(refChildren[2], NS_DS, 'DigestValue')
  ) {
    throw refuse('SAML assertion signature is not well-formed');
  }
  const transforms = childElements(transformsEl);
  if (
    transforms.length !== REQUIRED_TRANSFORMS.length ||
    transforms.some(
      (t, i) => !is(t, NS_DS, 'Transform') || attr(t, 'Algorithm') !== REQUIRED_TRANSFORMS[i],
    )
  ) {
    throw refuse('SAML assertion signature transforms are not allowed');
  }
  if (!Object.hasOwn(DIGEST_ALGORITHMS, attr(digestMethod, 'Algorithm') ?? '')) {
    throw refuse('SAML assertion digest algorithm is not allowed');
  }
  return { id, signature };
}

// ---------------------------------------------------------------------------------------------

export class SamlVerifier {
  private readonly keys: KeyObject[];
  private readonly maxBytes: number;
  private readonly skewMs: number;

  constructor(
    private readonly opts: SamlOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!opts.issuer) throw new Error('SAML issuer is required');
    if (!opts.audience) throw new Error('SAML audience is required');
    if (!opts.groupsAttribute) throw new Error('SAML groups attribute is required');
    if (!Number.isFinite(opts.clockSkewSeconds) || opts.clockSkewSeconds < 0) {
      throw new Error('SAML clock skew must be a non-negative number of seconds');
    }
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes <= 0) {
      throw new Error('SAML maxBytes must be a positive integer');
    }
    this.skewMs = opts.clockSkewSeconds * 1000;
    this.keys = opts.certs.flatMap(certificateDers).map(signingKey);
    if (this.keys.length === 0) throw new Error('SAML needs at least one IdP signing certificate');
  }

  verify(value: string): Principal {
    const xml = decodeHeader(value, this.maxBytes);
    let doc: XmlDocument;
    try {
      doc = parseStrict(xml);
    } catch (e) {
      if (e instanceof XmlRefusal) throw refuse(`SAML assertion ${e.message}`);
      throw refuse('SAML assertion is not well-formed XML');
    }
    const { id, signature } = checkStructure(doc);
    const signed = this.checkSignature(xml, signature);

    // From here on, only the signed bytes are read.
    let signedDoc: XmlDocument;
    try {
      signedDoc = parseStrict(signed);
    } catch {
      throw refuse('SAML assertion signature is not valid');
    }
    const assertion = signedDoc.documentElement;
    if (
      !is(assertion, NS_SAML, 'Assertion') ||
      attr(assertion, 'ID') !== id ||
      descendantsByLocalName(signedDoc, 'Assertion').length !== 1 ||
      descendantsByLocalName(signedDoc, 'Signature').length !== 0
    ) {
      throw refuse('SAML assertion signature does not cover the Assertion');
    }
    return this.principal(assertion);
  }

  /** Verifies against each configured key; returns the canonical signed Assertion XML. */
  private checkSignature(xml: string, signature: XmlElement): string {
    for (const key of this.keys) {
      const sig = verifierFor(key);
      try {
        sig.loadSignature(signature);
        if (sig.checkSignature(xml) !== true) continue;
      } catch {
        continue; // wrong key, bad digest, unsupported algorithm: try the next key
      }
      const refs = sig.getSignedReferences();
      if (refs.length !== 1 || typeof refs[0] !== 'string') {
        throw refuse('SAML assertion signature must have exactly one reference');
      }
      return refs[0];
    }
    throw refuse('SAML assertion signature is not valid');
  }

  private principal(assertion: XmlElement): Principal {
    const now = this.now();
    if (attr(assertion, 'Version') !== '2.0') throw refuse('SAML assertion version is not 2.0');
    const issueInstant = parseInstant(attr(assertion, 'IssueInstant'));
    if (issueInstant === undefined) throw refuse('SAML assertion has no IssueInstant');
    if (issueInstant > now + this.skewMs) throw refuse('SAML assertion is issued in the future');

    // Issuer
    const issuers = children(assertion, NS_SAML, 'Issuer');
    const issuerEl = issuers[0];
    if (issuers.length !== 1 || !issuerEl) throw refuse('SAML assertion issuer is missing');
    const format = attr(issuerEl, 'Format');
    if (format !== undefined && format !== ENTITY_FORMAT)
      throw refuse('SAML assertion issuer is not trusted');
    if (text(issuerEl) !== this.opts.issuer) throw refuse('SAML assertion issuer is not trusted');

    // Conditions: validity window (expiry required), audience, nothing we cannot enforce.
    const conditionsList = children(assertion, NS_SAML, 'Conditions');
    const conditions = conditionsList[0];
    if (conditionsList.length !== 1 || !conditions)
      throw refuse('SAML assertion has no Conditions');
    const notBefore = parseInstant(attr(conditions, 'NotBefore'));
    const notOnOrAfter = parseInstant(attr(conditions, 'NotOnOrAfter'));
    if (notOnOrAfter === undefined) throw refuse('SAML assertion has no expiry (NotOnOrAfter)');
    if (notBefore !== undefined && notBefore >= notOnOrAfter) {
      throw refuse('SAML assertion validity window is empty');
    }
    if (notBefore !== undefined && now + this.skewMs < notBefore) {
      throw refuse('SAML assertion is not yet valid');
    }
    if (now - this.skewMs >= notOnOrAfter) throw refuse('SAML assertion has expired');

    let audienceRestrictions = 0;
    for (const c of childElements(conditions)) {
      if (is(c, NS_SAML, 'AudienceRestriction')) {
        audienceRestrictions++;
        // Every AudienceRestriction must be satisfied (SAML core 2.5.1.4).
        const audiences = children(c, NS_SAML, 'Audience').map(text);
        if (!audiences.includes(this.opts.audience)) {
          throw refuse('SAML assertion audience does not match');
        }
      } else if (is(c, NS_SAML, 'ProxyRestriction')) {
        // Limits onward re-issuing by the relying party; callguard never re-issues.
      } else {
        // OneTimeUse cannot be honoured for a header replayed on every call, and an unknown
        // condition makes the assertion indeterminate (SAML core 2.5.1): refuse both.
        throw refuse('SAML assertion carries a condition callguard cannot enforce');
      }
    }
    if (audienceRestrictions === 0) throw refuse('SAML assertion has no audience restriction');

    // Subject
    const subjects = children(assertion, NS_SAML, 'Subject');
    const subjectEl = subjects[0];
    if (subjects.length !== 1 || !subjectEl) throw refuse('SAML assertion has no subject NameID');
    const nameIds = children(subjectEl, NS_SAML, 'NameID');
    const subject = nameIds.length === 1 && nameIds[0] ? text(nameIds[0]) : '';
    if (subject === '') throw refuse('SAML assertion has no subject NameID');
    for (const sc of children(subjectEl, NS_SAML, 'SubjectConfirmation')) {
      for (const scd of children(sc, NS_SAML, 'SubjectConfirmationData')) {
        const scdNotBefore = parseInstant(attr(scd, 'NotBefore'));
        const scdNotOnOrAfter = parseInstant(attr(scd, 'NotOnOrAfter'));
        if (scdNotOnOrAfter !== undefined && now - this.skewMs >= scdNotOnOrAfter) {
          throw refuse('SAML assertion subject confirmation has expired');
        }
        if (scdNotBefore !== undefined && now + this.skewMs < scdNotBefore) {
          throw refuse('SAML assertion subject confirmation is not yet valid');
        }
      }
    }

    // Attributes
    const values = (name: string): string[] => {
      const out: string[] = [];
      for (const st of children(assertion, NS_SAML, 'AttributeStatement')) {
        for (const a of children(st, NS_SAML, 'Attribute')) {
          if (attr(a, 'Name') !== name) continue;
          for (const v of children(a, NS_SAML, 'AttributeValue')) {
            if (v.getAttributeNS(NS_XSI, 'nil') === 'true') continue;
            if (childElements(v).length > 0) continue; // structured value: not a string
            const s = text(v);
            if (s !== '') out.push(s);
          }
        }
      }
      return out;
    };

    const principal: Principal = {
      subject,
      groups: [...new Set(values(this.opts.groupsAttribute))],
      issuer: this.opts.issuer,
      authMethod: 'saml',
    };
    if (this.opts.emailAttribute) {
      const email = values(this.opts.emailAttribute)[0];
      if (email !== undefined) principal.email = email;
    }
    if (this.opts.nameAttribute) {
      const name = values(this.opts.nameAttribute)[0];
      if (name !== undefined) principal.name = name;
    }
    return principal;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Reads an IdP metadata XML (EntityDescriptor): its entityID and the signing certificates (PEM)
 * of its IDPSSODescriptor KeyDescriptors with use="signing" or no use. Throws an Error (a
 * configuration problem, not a request's) when the document is not usable.
 */
export function readIdpMetadata(xml: string): { entityId: string; certs: string[] } {
  let doc: XmlDocument;
  try {
    doc = parseStrict(xml.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new Error(
      `SAML IdP metadata ${e instanceof XmlRefusal ? e.message : 'is not well-formed XML'}`,
    );
  }
  const root = doc.documentElement;
  if (!is(root, NS_MD, 'EntityDescriptor')) {
    throw new Error('SAML IdP metadata root element is not an EntityDescriptor');
  }
  const entityId = (attr(root, 'entityID') ?? '').trim();
  if (entityId === '') throw new Error('SAML IdP metadata has no entityID');
  const idps = children(root, NS_MD, 'IDPSSODescriptor');
  if (idps.length === 0) throw new Error('SAML IdP metadata has no IDPSSODescriptor');

  const certs: string[] = [];
  const seen = new Set<string>();
  for (const idp of idps) {
    for (const kd of children(idp, NS_MD, 'KeyDescriptor')) {
      const use = attr(kd, 'use');
      if (use !== undefined && use !== 'signing') continue;
      for (const ki of children(kd, NS_DS, 'KeyInfo')) {
        for (const x5d of children(ki, NS_DS, 'X509Data')) {
          for (const x5c of children(x5d, NS_DS, 'X509Certificate')) {
            for (const der of certificateDers(x5c.textContent ?? '')) {
              signingKey(der); // validates the certificate and its key
              const pem = toPem(der);
              if (!seen.has(pem)) {
                seen.add(pem);
                certs.push(pem);
              }
            }
          }
        }
      }
    }
  }
  if (certs.length === 0) throw new Error('SAML IdP metadata has no signing certificate');
  return { entityId, certs };
}
