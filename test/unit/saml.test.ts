import { X509Certificate, sign as cryptoSign } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { generate } from 'selfsigned';
import { SignedXml, createOptionalCallbackFunction } from 'xml-crypto';
import type { SignatureAlgorithm } from 'xml-crypto';
import { CallguardError } from '../../src/errors.js';
import { SamlVerifier, readIdpMetadata } from '../../src/identity/saml.js';
import type { SamlOptions } from '../../src/identity/saml.js';
import type { Principal } from '../../src/policy/types.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA512 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const SHA512 = 'http://www.w3.org/2001/04/xmlenc#sha512';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';

const IDP = 'https://idp.example.test/metadata';
const SP = 'https://callguard.example.test/sp';
const NOW = Date.parse('2030-06-01T12:00:00Z');
const clock = () => NOW;

// Canary values: none of them may ever appear in an error message.
const NAME_ID = 'canary-nameid-7f3a@idp.example.test';
const EMAIL = 'canary-email-91c2@example.test';
const DISPLAY_NAME = 'Canary Display Name 5d1e';
const GROUPS = ['canary-group-alpha', 'canary-group-beta', 'canary-group-gamma'];
const CANARIES = [NAME_ID, EMAIL, DISPLAY_NAME, ...GROUPS, 'canary-group-admin', 'canary-attacker'];

interface KeyPair {
  private: string;
  cert: string;
}
let idp: KeyPair;
let other: KeyPair;
let ecIdp: KeyPair;

beforeAll(async () => {
  const opts = { keySize: 2048, algorithm: 'sha256' };
  [idp, other, ecIdp] = await Promise.all([
    generate([{ name: 'commonName', value: 'idp.example.test' }], opts),
    generate([{ name: 'commonName', value: 'attacker.example.test' }], opts),
    generate([{ name: 'commonName', value: 'ec-idp.example.test' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
    }),
  ]);
});

const iso = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toISOString();

interface Overrides {
  id?: string;
  issuer?: string;
  audience?: string;
  issueInstant?: string;
  notBefore?: string | null;
  notOnOrAfter?: string | null;
  nameId?: string | null;
  groups?: string[];
  email?: string | null;
  scdNotOnOrAfter?: string | null;
  extraConditions?: string;
}

function assertionXml(o: Overrides = {}): string {
  const id = o.id ?? '_a7f9c3e1b2d4';
  const notBefore = o.notBefore === undefined ? iso(-300) : o.notBefore;
  const notOnOrAfter = o.notOnOrAfter === undefined ? iso(300) : o.notOnOrAfter;
  const nameId = o.nameId === undefined ? NAME_ID : o.nameId;
  const email = o.email === undefined ? EMAIL : o.email;
  const scd = o.scdNotOnOrAfter === undefined ? iso(300) : o.scdNotOnOrAfter;
  const conditionAttrs = [
    notBefore === null ? '' : ` NotBefore="${notBefore}"`,
    notOnOrAfter === null ? '' : ` NotOnOrAfter="${notOnOrAfter}"`,
  ].join('');
  const values = (o.groups ?? GROUPS)
    .map((g) => `<saml:AttributeValue xsi:type="xs:string">${g}</saml:AttributeValue>`)
    .join('');
  return (
    `<saml:Assertion xmlns:saml="${NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" ` +
    `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="${id}" Version="2.0" ` +
    `IssueInstant="${o.issueInstant ?? iso(-60)}">` +
    `<saml:Issuer>${o.issuer ?? IDP}</saml:Issuer>` +
    `<saml:Subject>` +
    (nameId === null
      ? ''
      : `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${nameId}</saml:NameID>`) +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData${scd === null ? '' : ` NotOnOrAfter="${scd}"`}/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions${conditionAttrs}>` +
    `<saml:AudienceRestriction><saml:Audience>${o.audience ?? SP}</saml:Audience></saml:AudienceRestriction>` +
    (o.extraConditions ?? '') +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(-60)}"><saml:AuthnContext>` +
    `<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>` +
    `</saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>` +
    `<saml:Attribute Name="groups">${values}</saml:Attribute>` +
    (email === null
      ? ''
      : `<saml:Attribute Name="email"><saml:AttributeValue>${email}</saml:AttributeValue></saml:Attribute>`) +
    `<saml:Attribute Name="displayName"><saml:AttributeValue>${DISPLAY_NAME}</saml:AttributeValue></saml:Attribute>` +
    `</saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

/** ECDSA for xml-crypto (which ships none): XMLDSig wants r || s, not DER. */
const EcdsaSha256 = class implements SignatureAlgorithm {
  getSignature = createOptionalCallbackFunction((signedInfo: unknown, key: unknown): string =>
    cryptoSign('sha256', Buffer.from(signedInfo as string), {
      key: key as string,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64'),
  );
  verifySignature = createOptionalCallbackFunction((): boolean => false);
  getAlgorithmName = () => ECDSA_SHA256;
};

interface SignOptions {
  key?: KeyPair;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  /** XPath of the element the reference points at (default: the Assertion). */
  referenceXpath?: string;
}

/** Signs like an IdP: enveloped + exc-c14n, signature placed right after <Issuer>. */
function sign(xml: string, o: SignOptions = {}): string {
  const key = o.key ?? idp;
  const sig = new SignedXml({
    privateKey: key.private,
    publicCert: key.cert, // put in KeyInfo, as IdPs do; the verifier must ignore it
    signatureAlgorithm: o.signatureAlgorithm ?? RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  sig.SignatureAlgorithms[ECDSA_SHA256] = EcdsaSha256;
  sig.addReference({
    xpath: o.referenceXpath ?? "/*[local-name(.)='Assertion']",
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: o.digestAlgorithm ?? SHA256,
  });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: "/*/*[local-name(.)='Issuer']", action: 'after' },
  });
  return sig.getSignedXml();
}

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

function options(over: Partial<SamlOptions> = {}): SamlOptions {
  return {
    certs: [idp.cert],
    issuer: IDP,
    audience: SP,
    clockSkewSeconds: 60,
    groupsAttribute: 'groups',
    emailAttribute: 'email',
    nameAttribute: 'displayName',
    ...over,
  };
}

const verifier = (over: Partial<SamlOptions> = {}) => new SamlVerifier(options(over), clock);

/** Asserts a 401 refusal whose message matches and leaks none of the canaries. */
function expectRefused(fn: () => unknown, message: RegExp): CallguardError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a refusal').toBeInstanceOf(CallguardError);
  const err = caught as CallguardError;
  expect(err.code).toBe('unauthenticated');
  expect(err.status).toBe(401);
  expect(err.rule).toBe('identity.saml');
  expect(err.message).toMatch(message);
  for (const canary of CANARIES) expect(err.message).not.toContain(canary);
  return err;
}

const EXPECTED: Principal = {
  subject: NAME_ID,
  email: EMAIL,
  name: DISPLAY_NAME,
  groups: GROUPS,
  issuer: IDP,
  authMethod: 'saml',
};

// Nothing in the verifier (nor xml-crypto's own parser underneath) may log.
const consoleSpies: ReturnType<typeof vi.spyOn>[] = [];
beforeEach(() => {
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    consoleSpies.push(vi.spyOn(console, m).mockImplementation(() => undefined));
  }
});
afterEach(() => {
  for (const s of consoleSpies) expect(s).not.toHaveBeenCalled();
  consoleSpies.length = 0;
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------

describe('SamlVerifier: valid assertions', () => {
  it('accepts a signed assertion and returns the principal', () => {
    expect(verifier().verify(b64(sign(assertionXml())))).toEqual(EXPECTED);
  });

  it('leaves email and name out when not configured or absent', () => {
    const p = verifier({ emailAttribute: undefined, nameAttribute: undefined }).verify(
      b64(sign(assertionXml())),
    );
    expect(p).toEqual({ subject: NAME_ID, groups: GROUPS, issuer: IDP, authMethod: 'saml' });
    const q = verifier().verify(b64(sign(assertionXml({ email: null }))));
    expect(q.email).toBeUndefined();
  });

  it('accepts url-safe base64 without padding, wrapped in whitespace', () => {
    const urlSafe = b64(sign(assertionXml()))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    const wrapped = ` ${urlSafe.replace(/(.{76})/g, '$1\r\n')}\n`;
    expect(verifier().verify(wrapped)).toEqual(EXPECTED);
  });

  it('accepts rsa-sha512 with a sha512 digest', () => {
    const xml = sign(assertionXml(), { signatureAlgorithm: RSA_SHA512, digestAlgorithm: SHA512 });
    expect(verifier().verify(b64(xml))).toEqual(EXPECTED);
  });

  it('accepts ecdsa-sha256 from an EC key', () => {
    const xml = sign(assertionXml(), { key: ecIdp, signatureAlgorithm: ECDSA_SHA256 });
    expect(verifier({ certs: [ecIdp.cert] }).verify(b64(xml))).toEqual(EXPECTED);
    // The same signature does not verify with an RSA key configured.
    expectRefused(() => verifier().verify(b64(xml)), /signature is not valid/);
  });

  it('tries each configured certificate (key rollover), in PEM or bare base64 DER', () => {
    const bareDer = idp.cert.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const v = verifier({ certs: [other.cert, bareDer] });
    expect(v.verify(b64(sign(assertionXml())))).toEqual(EXPECTED);
  });

  it('de-duplicates groups and ignores empty values', () => {
    const xml = sign(assertionXml({ groups: ['canary-group-alpha', '', 'canary-group-alpha'] }));
    expect(verifier().verify(b64(xml)).groups).toEqual(['canary-group-alpha']);
  });
});

describe('SamlVerifier: signature', () => {
  it('refuses an unsigned assertion', () => {
    expectRefused(() => verifier().verify(b64(assertionXml())), /not signed/);
  });

  it('refuses an assertion signed by another key (even with its cert in KeyInfo)', () => {
    const xml = sign(assertionXml(), { key: other });
    expectRefused(() => verifier().verify(b64(xml)), /signature is not valid/);
  });

  it('refuses content tampered with after signing', () => {
    const xml = sign(assertionXml()).replace('canary-group-beta', 'canary-group-admin');
    expectRefused(() => verifier().verify(b64(xml)), /signature is not valid/);
  });

  it('refuses a tampered subject', () => {
    const xml = sign(assertionXml()).replace(NAME_ID, 'canary-attacker@idp.example.test');
    expectRefused(() => verifier().verify(b64(xml)), /signature is not valid/);
  });

  it('refuses a SHA-1 signature or digest', () => {
    const sha1Both = sign(assertionXml(), { signatureAlgorithm: RSA_SHA1, digestAlgorithm: SHA1 });
    expectRefused(() => verifier().verify(b64(sha1Both)), /signature algorithm is not allowed/);
    const sha1Digest = sign(assertionXml(), { digestAlgorithm: SHA1 });
    expectRefused(() => verifier().verify(b64(sha1Digest)), /digest algorithm is not allowed/);
  });

  it('refuses a signature whose reference points at another element', () => {
    const xml = sign(assertionXml(), { referenceXpath: "//*[local-name(.)='Subject']" });
    expectRefused(() => verifier().verify(b64(xml)), /does not reference the Assertion/);
  });

  it('refuses more than one signature', () => {
    const signed = sign(assertionXml());
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)?.[0] ?? '';
    expect(signature).not.toBe('');
    const twice = signed.replace(signature, signature + signature);
    expectRefused(() => verifier().verify(b64(twice)), /exactly one signature/);
  });

  it('refuses a signature with an extra transform', () => {
    const xml = sign(assertionXml()).replace(
      `<ds:Transform Algorithm="${EXC_C14N}"/>`,
      `<ds:Transform Algorithm="${EXC_C14N}"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>`,
    );
    expectRefused(() => verifier().verify(b64(xml)), /transforms are not allowed/);
  });
});

describe('SamlVerifier: signature wrapping', () => {
  const evilAssertion = (id: string, inner = '') =>
    `<saml:Assertion xmlns:saml="${NS_SAML}" ID="${id}" Version="2.0" IssueInstant="${iso(-60)}">` +
    `<saml:Issuer>${IDP}</saml:Issuer>` +
    `<saml:Subject><saml:NameID>canary-attacker</saml:NameID></saml:Subject>` +
    `<saml:Conditions NotOnOrAfter="${iso(300)}"><saml:AudienceRestriction>` +
    `<saml:Audience>${SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    (inner ? `<saml:Advice>${inner}</saml:Advice>` : '') +
    `<saml:AttributeStatement><saml:Attribute Name="groups">` +
    `<saml:AttributeValue>canary-group-admin</saml:AttributeValue>` +
    `</saml:Attribute></saml:AttributeStatement></saml:Assertion>`;

  it('refuses the signed assertion wrapped inside an evil one (Advice)', () => {
    const signed = sign(assertionXml());
    expectRefused(
      () => verifier().verify(b64(evilAssertion('_evil', signed))),
      /exactly one Assertion/,
    );
  });

  it('refuses an evil assertion next to the signed one (in a Response)', () => {
    const signed = sign(assertionXml());
    const response =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp" Version="2.0">` +
      `${evilAssertion('_evil')}${signed}</samlp:Response>`;
    expectRefused(() => verifier().verify(b64(response)), /root element is not an Assertion/);
  });

  it('refuses an evil assertion hidden inside the signature (ds:Object)', () => {
    const xml = sign(assertionXml()).replace(
      '</ds:Signature>',
      `<ds:Object>${evilAssertion('_evil')}</ds:Object></ds:Signature>`,
    );
    expectRefused(() => verifier().verify(b64(xml)), /exactly one Assertion/);
  });

  it('refuses an evil root with the same ID as the signed assertion', () => {
    const signed = sign(assertionXml());
    expectRefused(
      () => verifier().verify(b64(evilAssertion('_a7f9c3e1b2d4', signed))),
      /exactly one Assertion|not unique/,
    );
  });

  it('refuses XSW: signature moved to an evil root, original (unsigned) kept in Advice', () => {
    const signed = sign(assertionXml());
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)?.[0] ?? '';
    const original = signed.replace(signature, '');
    const evil = evilAssertion('_evil', original).replace(
      `<saml:Issuer>${IDP}</saml:Issuer>`,
      `<saml:Issuer>${IDP}</saml:Issuer>${signature}`,
    );

    // xml-crypto on its own accepts this document: the reference resolves to the original
    // in Advice and the digest matches. Only its signed references are trustworthy.
    const raw = new SignedXml({ publicCert: idp.cert });
    const sigNode = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(evil)?.[0] ?? '';
    raw.loadSignature(sigNode);
    expect(raw.checkSignature(evil)).toBe(true);
    const refs = raw.getSignedReferences();
    expect(refs).toHaveLength(1);
    expect(refs[0]).toContain(NAME_ID);
    expect(refs[0]).not.toContain('canary-attacker');

    // The verifier refuses it outright.
    expectRefused(() => verifier().verify(b64(evil)), /exactly one Assertion/);
  });

  it('reads the subject from the signed bytes, not a comment-split text node', () => {
    // Classic comment injection (CVE-2017-11428 family): the IdP signed "…test.evil.test"; the
    // attacker splits the text with a comment (exc-c14n drops comments, so the signature still
    // verifies). A reader that took only the first text node would see the victim's address;
    // the verifier reads the canonical signed XML, which has no comment at all.
    const victim = 'canary-nameid-7f3a@idp.example.test';
    const registered = `${victim}.evil.test`;
    const signed = sign(assertionXml({ nameId: registered }));
    const injected = signed.replace(registered, `${victim}<!---->.evil.test`);
    expect(injected).not.toBe(signed);
    expect(verifier().verify(b64(injected)).subject).toBe(registered);
  });
});

describe('SamlVerifier: conditions', () => {
  it('refuses an expired assertion (beyond the skew)', () => {
    const xml = sign(assertionXml({ notOnOrAfter: iso(-120), scdNotOnOrAfter: null }));
    expectRefused(() => verifier().verify(b64(xml)), /has expired/);
  });

  it('accepts an assertion expired by less than the skew', () => {
    const xml = sign(assertionXml({ notOnOrAfter: iso(-30), scdNotOnOrAfter: null }));
    expect(verifier().verify(b64(xml))).toEqual(EXPECTED);
    // … and the same one is refused with no skew.
    expectRefused(() => verifier({ clockSkewSeconds: 0 }).verify(b64(xml)), /has expired/);
  });

  it('refuses an assertion that is not yet valid, accepts one within the skew', () => {
    const future = sign(assertionXml({ notBefore: iso(120) }));
    expectRefused(() => verifier().verify(b64(future)), /not yet valid/);
    const soon = sign(assertionXml({ notBefore: iso(30) }));
    expect(verifier().verify(b64(soon))).toEqual(EXPECTED);
  });

  it('refuses an assertion without NotOnOrAfter', () => {
    const xml = sign(assertionXml({ notOnOrAfter: null }));
    expectRefused(() => verifier().verify(b64(xml)), /no expiry/);
  });

  it('refuses an expired SubjectConfirmationData', () => {
    const xml = sign(assertionXml({ scdNotOnOrAfter: iso(-120) }));
    expectRefused(() => verifier().verify(b64(xml)), /subject confirmation has expired/);
  });

  it('refuses a wrong audience', () => {
    const xml = sign(assertionXml({ audience: 'https://other-sp.example.test' }));
    expectRefused(() => verifier().verify(b64(xml)), /audience does not match/);
  });

  it('refuses a wrong issuer (even when signed by the trusted key)', () => {
    const xml = sign(assertionXml({ issuer: 'https://evil-idp.example.test' }));
    expectRefused(() => verifier().verify(b64(xml)), /issuer is not trusted/);
  });

  it('refuses an assertion without a NameID', () => {
    const xml = sign(assertionXml({ nameId: null }));
    expectRefused(() => verifier().verify(b64(xml)), /no subject NameID/);
  });

  it('refuses OneTimeUse and unknown conditions', () => {
    const xml = sign(assertionXml({ extraConditions: '<saml:OneTimeUse/>' }));
    expectRefused(() => verifier().verify(b64(xml)), /condition callguard cannot enforce/);
  });

  it('refuses an assertion issued in the future', () => {
    const xml = sign(assertionXml({ issueInstant: iso(600) }));
    expectRefused(() => verifier().verify(b64(xml)), /issued in the future/);
  });
});

describe('SamlVerifier: input hygiene', () => {
  it('refuses a DOCTYPE (entities)', () => {
    const signed = sign(assertionXml());
    const withDoctype = `<?xml version="1.0"?><!DOCTYPE saml:Assertion [<!ENTITY g "canary-group-admin">]>${signed}`;
    expectRefused(() => verifier().verify(b64(withDoctype)), /DOCTYPE/);
  });

  it('refuses a value that is not base64', () => {
    expectRefused(() => verifier().verify('%%% not base64 %%%'), /not valid base64/);
    expectRefused(() => verifier().verify(''), /not valid base64/);
    expectRefused(() => verifier().verify('QUJD='), /not valid base64/); // bad padding
  });

  it('refuses an assertion larger than maxBytes', () => {
    const value = b64(sign(assertionXml()));
    expectRefused(() => verifier({ maxBytes: 1024 }).verify(value), /too large/);
    expectRefused(
      () => verifier().verify(b64('<a>' + 'x'.repeat(70 * 1024) + '</a>')),
      /too large/,
    );
    expectRefused(() => verifier().verify('A'.repeat(1024 * 1024)), /too large/);
  });

  it('refuses content that is not XML, or not well-formed', () => {
    expectRefused(() => verifier().verify(b64('this is not xml')), /not well-formed XML/);
    expectRefused(
      () => verifier().verify(b64('<saml:Assertion xmlns:saml="x">')),
      /not well-formed/,
    );
    expectRefused(() => verifier().verify(b64('<a><b></a>')), /not well-formed XML/);
    expectRefused(
      () => verifier().verify(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c]).toString('base64')),
      /not valid UTF-8/,
    );
  });

  it('refuses a well-formed document that is not an Assertion', () => {
    expectRefused(() => verifier().verify(b64('<x:Foo xmlns:x="urn:x"/>')), /not an Assertion/);
  });
});

describe('SamlVerifier: configuration', () => {
  it('refuses to start without a usable certificate', () => {
    expect(() => verifier({ certs: [] })).toThrow(/at least one/);
    expect(() => verifier({ certs: ['not a certificate'] })).toThrow(/certificate/);
    expect(() => verifier({ certs: ['QUJDRA=='] })).toThrow(/certificate/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('readIdpMetadata', () => {
  const certBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const keyDescriptor = (cert: string, use?: string) =>
    `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n` +
    `${certBody(cert).replace(/(.{64})/g, '$1\n')}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const metadata = (descriptors: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ` +
    `xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${IDP}">\n` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n` +
    descriptors +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" ` +
    `Location="https://idp.example.test/sso"/>\n` +
    `</md:IDPSSODescriptor>\n</md:EntityDescriptor>\n`;
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

  it('reads entityID and the signing certificates (use="signing" or none), not encryption', () => {
    const md = readIdpMetadata(
      metadata(keyDescriptor(idp.cert, 'signing') + keyDescriptor(other.cert, 'encryption')),
    );
    expect(md.entityId).toBe(IDP);
    expect(md.certs.map(fingerprint)).toEqual([fingerprint(idp.cert)]);
    expect(md.certs[0]).toMatch(/^-----BEGIN CERTIFICATE-----\n/);

    const noUse = readIdpMetadata(metadata(keyDescriptor(idp.cert) + keyDescriptor(ecIdp.cert)));
    expect(noUse.certs.map(fingerprint)).toEqual([fingerprint(idp.cert), fingerprint(ecIdp.cert)]);
  });

  it('feeds a verifier end to end', () => {
    const md = readIdpMetadata(metadata(keyDescriptor(idp.cert, 'signing')));
    const v = new SamlVerifier(
      {
        certs: md.certs,
        issuer: md.entityId,
        audience: SP,
        clockSkewSeconds: 60,
        groupsAttribute: 'groups',
        emailAttribute: 'email',
      },
      clock,
    );
    expect(v.verify(b64(sign(assertionXml())))).toEqual({
      subject: NAME_ID,
      email: EMAIL,
      groups: GROUPS,
      issuer: IDP,
      authMethod: 'saml',
    });
    expectRefused(
      () => v.verify(b64(sign(assertionXml(), { key: other }))),
      /signature is not valid/,
    );
  });

  it('refuses unusable metadata', () => {
    expect(() => readIdpMetadata('<not-xml')).toThrow(/not well-formed/);
    expect(() =>
      readIdpMetadata(`<!DOCTYPE x>${metadata(keyDescriptor(idp.cert, 'signing'))}`),
    ).toThrow(/DOCTYPE/);
    expect(() => readIdpMetadata(metadata(keyDescriptor(other.cert, 'encryption')))).toThrow(
      /no signing certificate/,
    );
    expect(() => readIdpMetadata('<x xmlns="urn:x"/>')).toThrow(/EntityDescriptor/);
    expect(() => readIdpMetadata(metadata(keyDescriptor(idp.cert).replace(/MII/, '!!')))).toThrow(
      /certificate/,
    );
  });
});
