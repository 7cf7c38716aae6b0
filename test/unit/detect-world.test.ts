// The detectors of the secrets, health, finance and country packs: named-case tables of
// values that must be found (with the context each needs) and values that must not
// (check-digit failures, no context, look-alikes), the validators against published test
// vectors, and packs.
import { describe, expect, it } from 'vitest';
import { BUILTIN_SPECS } from '../../src/detect/builtin.js';
import { compileDetectors, PACK_NAMES } from '../../src/detect/index.js';
import {
  base58CheckAddressValid,
  damm,
  eip55Valid,
  iso7064Mod11_10,
  iso7064Mod11_2,
  iso7064Mod97_10,
  segwitAddressValid,
  verhoeff,
} from '../../src/detect/validators.js';
import { keccak256 } from '../../src/detect/keccak.js';

const detectors = compileDetectors({ custom: [] });

/** [detector, matched text] of every hit. */
function found(text: string, keys: readonly string[] = []): [string, string][] {
  return detectors.scan(text, { keys }).map((h) => [h.detector, text.slice(h.start, h.end)]);
}

// Secret-looking test values are assembled at run time so no scanner mistakes this file
// for a leak.
const j = (...parts: string[]): string => parts.join('');
const GOOGLE = j('AIza', 'SyB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z');
const GOCSPX = j('GOCSPX', '-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9v');
const SLACK_HOOK = j(
  'https://hooks.slack',
  '.com/services/',
  'T0A1B2C3D/B0E4F5G6H/aB3dE5fG7hJ9kL1mN3pQ5rS7',
);
const TWILIO = j('SK', '3f786850e387550fdab836ed7e6dc881');
const SENDGRID = j(
  'SG',
  '.aB3dE5fG7hJ9kL1mN3pQ5r',
  '.',
  'S7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW',
);
const MAILGUN = j('key', '-3f786850e387550fdab836ed7e6dc881');
const NPM = j('npm', '_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5');
const PYPI = j(
  'pypi',
  '-AgEIcHlwaS5vcmc',
  'CJDg4NzQ5MjYtYjQ5Ni00NDlhLTg1ZjUtMDc0MzlkYjc2ZWQ2AAIqWzMsIjE',
);
const HF = j('hf', '_aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH');
const GITLAB = j('glpat', '-aB3dE5fG7hJ9kL1mN3pQ');
const DO_TOKEN = j(
  'dop',
  '_v1_',
  '3f786850e387550fdab836ed7e6dc8813f786850e387550fdab836ed7e6dc881',
);
const SHOPIFY = j('shpat', '_3f786850e387550fdab836ed7e6dc881');
const AWS_SECRET = j('wJalrXUtnFEMI', '/K7MDENG/bPxRfiCY8xAMPLEKEY');
const AZURE_KEY = j(
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq',
  '/K1SZFPTOtr/KBHBeksoGMGw==',
);
const DD_KEY = '3f786850e387550fdab836ed7e6dc881';

type Case = [name: string, text: string, keys: readonly string[], expected: [string, string][]];

const valid: Case[] = [
  // secrets
  ['google api key', `key=${GOOGLE}`, [], [['google_api_key', GOOGLE]]],
  [
    'google oauth client secret',
    `"client_secret": "${GOCSPX}"`,
    [],
    [['google_oauth_secret', GOCSPX]],
  ],
  ['slack incoming webhook', `post to ${SLACK_HOOK} please`, [], [['slack_webhook', SLACK_HOOK]]],
  ['twilio api key', `twilio ${TWILIO}`, [], [['twilio_key', TWILIO]]],
  ['sendgrid api key', SENDGRID, [], [['sendgrid_key', SENDGRID]]],
  ['mailgun api key', `MAILGUN_KEY ${MAILGUN}`, [], [['mailgun_key', MAILGUN]]],
  ['npm token', `//registry.npmjs.org/:_authToken=${NPM}`, [], [['npm_token', NPM]]],
  ['pypi token', `password = ${PYPI}`, [], [['pypi_token', PYPI]]],
  ['hugging face token', `HF_TOKEN ${HF}`, [], [['huggingface_token', HF]]],
  ['gitlab token', GITLAB, [], [['gitlab_token', GITLAB]]],
  ['digitalocean token', DO_TOKEN, [], [['digitalocean_token', DO_TOKEN]]],
  ['shopify token', SHOPIFY, [], [['shopify_token', SHOPIFY]]],
  [
    'aws secret access key after its name',
    `aws_secret_access_key=${AWS_SECRET}`,
    [],
    [['aws_secret_key', AWS_SECRET]],
  ],
  [
    'aws secret access key under its key',
    AWS_SECRET,
    ['AWS_SECRET_ACCESS_KEY'],
    [['aws_secret_key', AWS_SECRET]],
  ],
  [
    'azure storage connection string',
    `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${AZURE_KEY};EndpointSuffix=core.windows.net`,
    [],
    [['azure_storage_key', AZURE_KEY]],
  ],
  ['datadog api key under its key', DD_KEY, ['DD_API_KEY'], [['datadog_key', DD_KEY]]],
  ['datadog api key after its name', `datadog api key: ${DD_KEY}`, [], [['datadog_key', DD_KEY]]],
  [
    'password in a database url',
    'postgres://billing:Zx81-qP4vW@db.internal:5432/billing',
    [],
    [['url_credentials', 'Zx81-qP4vW']],
  ],
  [
    'password in a broker url',
    'amqps://svc:s3cr3t!x@mq.example.com/vhost',
    [],
    [['url_credentials', 's3cr3t!x']],
  ],
  ['env-style secret name', 'DB_PASSWORD=hX9vK2mQ7rT4wZ8p', [], [['secret', 'hX9vK2mQ7rT4wZ8p']]],
  // health
  ['nhs number next to its name', 'NHS number 943 476 5919', [], [['uk_nhs', '943 476 5919']]],
  ['nhs number under its key', '9434765919', ['nhsNumber'], [['uk_nhs', '9434765919']]],
  ['npi', 'prescriber NPI: 1234567893', [], [['us_npi', '1234567893']]],
  ['dea number', 'DEA# AB1234563', [], [['us_dea', 'AB1234563']]],
  ['mbi with dashes', 'member 1EG4-TE5-MK73', [], [['us_mbi', '1EG4-TE5-MK73']]],
  ['mbi compact under its key', '1EG4TE5MK73', ['mbi'], [['us_mbi', '1EG4TE5MK73']]],
  [
    'icd-10 beside diagnosis',
    'primary diagnosis: E11.9 (type 2 diabetes)',
    [],
    [['icd10', 'E11.9']],
  ],
  ['icd-10 under its key', 'J45.909', ['diagnosis_code'], [['icd10', 'J45.909']]],
  ['medical record number', 'MRN: 00482913', [], [['mrn', '00482913']]],
  // finance
  ['aba routing number', 'routing number 011000015', [], [['aba_routing', '011000015']]],
  ['swift code', 'SWIFT/BIC: DEUTDEFF500', [], [['swift_bic', 'DEUTDEFF500']]],
  ['isin', 'bought US0378331005 today', [], [['isin', 'US0378331005']]],
  ['cusip', 'CUSIP 037833100', [], [['cusip', '037833100']]],
  [
    'bitcoin p2pkh',
    'send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
    [],
    [['bitcoin_address', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2']],
  ],
  [
    'bitcoin p2sh',
    '342ftSRCvFHfCeFFBuz4xwbeqnDw6BGUey',
    [],
    [['bitcoin_address', '342ftSRCvFHfCeFFBuz4xwbeqnDw6BGUey']],
  ],
  [
    'bitcoin bech32',
    'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
    [],
    [['bitcoin_address', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']],
  ],
  [
    'bitcoin taproot (bech32m)',
    'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297',
    [],
    [['bitcoin_address', 'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297']],
  ],
  [
    'ethereum EIP-55',
    'to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    [],
    [['ethereum_address', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed']],
  ],
  [
    'ethereum lower case',
    'wallet 0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae',
    [],
    [['ethereum_address', '0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae']],
  ],
  // national
  ['us itin', 'ITIN 912-70-1234', [], [['us_itin', '912-70-1234']]],
  ['us passport', 'passport no. 912803456', [], [['us_passport', '912803456']]],
  ["us driver's license", "driver's license: D1234567", [], [['us_driver_license', 'D1234567']]],
  ['us ein', 'EIN: 12-3456789', [], [['us_ein', '12-3456789']]],
  ['uk nino spaced', 'NI number AB 12 34 56 C', [], [['uk_nino', 'AB 12 34 56 C']]],
  ['uk nino compact, no context', 'ref AB123456C', [], [['uk_nino', 'AB123456C']]],
  ['canadian sin', 'SIN: 130 692 544', [], [['ca_sin', '130 692 544']]],
  ['canadian sin, the published sample', 'my SIN is 046 454 286', [], [['ca_sin', '046 454 286']]],
  ['australian tfn', 'my TFN is 123 456 782', [], [['au_tfn', '123 456 782']]],
  ['australian medicare', 'Medicare card 2123 45670 1', [], [['au_medicare', '2123 45670 1']]],
  ['australian abn', 'ABN 51 824 753 556', [], [['au_abn', '51 824 753 556']]],
  ['aadhaar', 'Aadhaar: 2345 6789 0124', [], [['in_aadhaar', '2345 6789 0124']]],
  ['indian pan', 'PAN ABCPE1234F', [], [['in_pan', 'ABCPE1234F']]],
  ['indian pan, the usual sample', 'PAN card ABCDE1234F', [], [['in_pan', 'ABCDE1234F']]],
  [
    'uk nino, the HMRC sample with context',
    'National Insurance number QQ 12 34 56 C',
    [],
    [['uk_nino', 'QQ 12 34 56 C']],
  ],
  ['brazilian cpf formatted', 'CPF 123.456.789-09', [], [['br_cpf', '123.456.789-09']]],
  [
    'brazilian cpf formatted, no context',
    'cliente 123.456.789-09',
    [],
    [['br_cpf', '123.456.789-09']],
  ],
  ['brazilian cpf bare under its key', '12345678909', ['cpf'], [['br_cpf', '12345678909']]],
  ['brazilian cnpj', 'CNPJ 11.222.333/0001-81', [], [['br_cnpj', '11.222.333/0001-81']]],
  ['spanish dni', 'DNI 12345678Z', [], [['es_dni', '12345678Z']]],
  ['spanish dni, no context', 'titular 12345678Z', [], [['es_dni', '12345678Z']]],
  ['spanish nie', 'NIE X1234567L', [], [['es_nie', 'X1234567L']]],
  ['italian codice fiscale', 'CF: RSSMRA85T10A562S', [], [['it_fiscal_code', 'RSSMRA85T10A562S']]],
  [
    'french nir',
    'n° sécurité sociale 2 55 08 14 168 025 38',
    [],
    [['fr_nir', '2 55 08 14 168 025 38']],
  ],
  ['german tax id', 'Steuer-ID: 65 929 970 489', [], [['de_tax_id', '65 929 970 489']]],
  ['dutch bsn', 'BSN 111222333', [], [['nl_bsn', '111222333']]],
  ['belgian national number', '85.07.30-033.28', [], [['be_national_number', '85.07.30-033.28']]],
  ['polish pesel', 'PESEL: 44051401359', [], [['pl_pesel', '44051401359']]],
  ['swedish personnummer, 12 digits', '19811228-9874', [], [['se_personnummer', '19811228-9874']]],
  [
    'swedish personnummer with context',
    'personnummer 811228-9874',
    [],
    [['se_personnummer', '811228-9874']],
  ],
  ['finnish hetu', '131052-308T', [], [['fi_hetu', '131052-308T']]],
  ['swiss ahv', 'AHV 756.9217.0769.85', [], [['ch_ahv', '756.9217.0769.85']]],
  ['singapore nric', 'NRIC S1234567D', [], [['sg_nric', 'S1234567D']]],
  [
    'japanese my number, no spaces around',
    'マイナンバーは123456789018です',
    [],
    [['jp_my_number', '123456789018']],
  ],
  ['korean rrn', '주민등록번호 800101-1234560', [], [['kr_rrn', '800101-1234560']]],
  ['korean rrn, dashed and checked', '800101-1234560', [], [['kr_rrn', '800101-1234560']]],
  ['chinese resident id', '11010519491231002X', [], [['cn_resident_id', '11010519491231002X']]],
];

const invalid: Case[] = [
  // secrets that are not
  ['google key one short', j('AIza', 'SyB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3'), [], []],
  ['twilio account sid is an id', j('AC', '3f786850e387550fdab836ed7e6dc881'), [], []],
  ['40 base64 chars without context', AWS_SECRET, [], []],
  ['40 base64 chars under an unrelated key', AWS_SECRET, ['etag'], []],
  ['32 hex without datadog', `checksum ${DD_KEY}`, [], []],
  ['url user without password', 'ssh://git@github.com:22/org/repo.git', [], []],
  ['url with a placeholder password', 'postgres://app:${DB_PASSWORD}@db:5432/app', [], []],
  ['url with masked password', 'mysql://root:****@localhost/test', [], []],
  ['url with a port, no credentials', 'redis://cache.internal:6379/0', [], []],
  ['next page token', 'CiAKGjBpNDd2Nmp2Zml2cXRlcjVqNXJqX2hxYnY', ['nextPageToken'], []],
  ['uuid is not a mailgun key', '550e8400-e29b-41d4-a716-446655440000', [], []],
  // health
  ['nhs number without context', 'ref 943 476 5919', [], [['phone', '943 476 5919']]],
  // Failing mod 11 it is no NHS number (a US phone number by its shape).
  ['nhs number failing mod 11', 'NHS number 943 476 5918', [], [['phone', '943 476 5918']]],
  ['npi without context', 'order 1234567893', [], []],
  ['npi failing luhn', 'NPI 1234567890', [], []],
  ['dea failing check', 'DEA AB1234567', [], []],
  ['mbi with a forbidden letter', '1SG4-TE5-MK73', [], []],
  ['mbi in lower case', '1eg4-te5-mk73', [], []],
  ['icd-like code without context', 'see section E11.9 of the manual', [], []],
  ['mrn-like number without context', 'ticket 00482913', [], []],
  // finance
  ['routing number without context', 'ref 011000015', [], []],
  ['routing number failing the check', 'routing 011000016', [], []],
  ['upper-case word beside swift', 'SWIFT TRANSFER', [], []],
  ['isin failing luhn', 'US0378331006', [], []],
  ['cusip without context', 'part 037833100', [], []],
  ['bitcoin failing the checksum', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3', [], []],
  ['bech32 with the wrong checksum', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr', [], []],
  ['ethereum with a wrong EIP-55 case', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', [], []],
  ['0x and 64 hex is a hash', `tx 0x${'3f786850e387550fdab836ed7e6dc881'.repeat(2)}`, [], []],
  // national
  ['ssn is not an itin', '536-22-1234', [], [['ssn', '536-22-1234']]],
  ['itin with an invalid group', '912-89-1234', [], []],
  ['9 digits without passport', 'order 912803456', [], []],
  ['uk nino with a sample prefix', 'QQ 12 34 56 C', [], []],
  ['uk nino in lower case, no context', 'code ab123456c', [], []],
  ['sin without context', 'ref 130 692 544', [], []],
  ['sin failing luhn', 'SIN 130 692 545', [], []],
  ['aadhaar without context', 'ref 2345 6789 0124', [], []],
  ['aadhaar failing verhoeff', 'Aadhaar 2345 6789 0125', [], []],
  ['cpf failing its check digits', '123.456.789-00', [], []],
  ['cpf of one digit', 'CPF 111.111.111-11', [], []],
  ['cpf bare without context', 'pedido 12345678909', [], []],
  ['dni with the wrong letter', 'DNI 12345678A', [], []],
  ['dni inside a longer code', 'SKU-12345678Z', [], []],
  ['codice fiscale with a wrong check letter', 'RSSMRA85T10A562T', [], []],
  ['nir bare without context', '255081416802538', [], []],
  ['steuer-id without context', '65929970489', [], []],
  ['bsn without context', 'ref 111222333', [], []],
  ['pesel without context', '44051401359', [], []],
  ['personnummer 6-4 without context', 'ref 811228-9874', [], []],
  ['hetu with a wrong check', '131052-308U', [], []],
  ['ahv with a wrong check', '756.9217.0769.86', [], []],
  ['nric with a wrong letter', 'S1234567A', [], []],
  ['my number without context', '1234 5678 9018', [], []],
  ['chinese id with an impossible date', '11010519491331002X', [], []],
  ['18-digit order number', 'order 110105194912310021', [], []],
];

describe('world detectors: found', () => {
  it.each(valid)('%s', (_name, text, keys, expected) => {
    expect(found(text, keys)).toEqual(expected);
  });
});

describe('world detectors: not found', () => {
  it.each(invalid)('%s', (_name, text, keys, expected) => {
    expect(found(text, keys)).toEqual(expected);
  });
});

describe('every documented example', () => {
  it.each(BUILTIN_SPECS.filter((s) => s.view !== 'original' || s.id === 'url_credentials'))(
    '$id finds its own example',
    (s) => {
      const keys = s.exampleKey ? [s.exampleKey] : [];
      expect(found(s.example, keys).map(([d]) => d)).toContain(s.id);
    },
  );
});

describe('check-digit algorithms (published vectors)', () => {
  it('Verhoeff, Damm, ISO 7064', () => {
    expect(verhoeff('2363')).toBe(true);
    expect(verhoeff('2364')).toBe(false);
    expect(damm('5724')).toBe(true);
    expect(damm('5727')).toBe(false);
    expect(iso7064Mod11_2('0000000073669144')).toBe(true); // ISNI-style
    expect(iso7064Mod11_2('079402X')).toBe(false);
    expect(iso7064Mod11_10('794623')).toBe(true);
    expect(iso7064Mod11_10('794624')).toBe(false);
    expect(iso7064Mod97_10('3214282912345698765432161182')).toBe(true); // GB82WEST… rearranged
  });

  it('Keccak-256 and EIP-55 (the EIP’s own addresses)', () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(hex(keccak256(new Uint8Array()))).toBe(
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
    expect(hex(keccak256(Buffer.from('abc')))).toBe(
      '4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45',
    );
    for (const a of [
      '5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      'fB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
      'dbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
      'D1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
    ]) {
      expect(eip55Valid(a)).toBe(true);
      expect(eip55Valid(a.replace(/[a-f]/, (c) => c.toUpperCase()))).toBe(false);
    }
  });

  it('base58check and bech32 / bech32m (BIP 173, BIP 350)', () => {
    expect(base58CheckAddressValid('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2')).toBe(true);
    expect(base58CheckAddressValid('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy')).toBe(true);
    expect(base58CheckAddressValid('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz')).toBe(false);
    for (const a of [
      'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4',
      'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3',
      'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297',
    ])
      expect(segwitAddressValid(a)).toBe(true);
    for (const a of [
      'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh', // version 0 with a bech32m checksum
      'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd', // version 1, bech32
      'bc1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', // mixed case
    ])
      expect(segwitAddressValid(a)).toBe(false);
  });
});

describe('packs', () => {
  const text = 'mail ada@example.com, NHS number 943 476 5919, CPF 123.456.789-09';
  const ids = (packs: string[]) =>
    compileDetectors({ packs, custom: [] })
      .scan(text, { keys: [] })
      .map((h) => h.detector);

  it('by default every pack runs', () => {
    expect(found(text).map(([d]) => d)).toEqual(['email', 'uk_nhs', 'br_cpf']);
    expect(ids(['all'])).toEqual(['email', 'uk_nhs', 'br_cpf']);
  });

  it('a detector runs when any of its packs is on', () => {
    // Without the health pack the NHS number is seen as what it looks like.
    expect(ids(['core'])).toEqual(['email', 'phone']);
    expect(ids(['health'])).toEqual(['uk_nhs']);
    expect(ids(['uk'])).toEqual(['uk_nhs']);
    expect(ids(['br', 'core'])).toEqual(['email', 'phone', 'br_cpf']);
  });

  it('enabled wins over packs; custom detectors run whatever the packs', () => {
    const d = compileDetectors({
      packs: ['core'],
      custom: [{ id: 'emp', level: 'confidential', pattern: 'EMP-\\d{4}' }],
    });
    expect(d.active.map((a) => a.id)).toContain('emp');
    expect(d.active.map((a) => a.id)).not.toContain('uk_nhs');
  });

  it('an unknown pack is refused, naming the packs there are', () => {
    expect(() => compileDetectors({ packs: ['mars'], custom: [] })).toThrow(
      /unknown pack "mars" \(packs: core, secrets, health, finance, us, uk/,
    );
    expect(PACK_NAMES).toContain('finance');
  });
});
