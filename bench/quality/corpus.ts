// The labelled values of the evaluation set (`npm run bench:quality`): for each detector,
// valid values (check digits verified against python-stdnum where it has the identifier,
// published samples elsewhere), sentences a person or a model writes them in (`{v}` is
// the value), and JSON key names they travel under; and traps, values that look like
// something sensitive and are not. generate.ts turns them into payloads of every format and
// channel. Secrets are made by generate.ts at run time (random bodies behind the published
// prefixes), so no secret-shaped literal sits in this file.

export interface Positive {
  detector: string;
  values: readonly string[];
  /** Sentences holding the value (`{v}`); they carry the context the detector needs. */
  prose: readonly string[];
  /** Key names the value travels under in arguments and results. */
  keys: readonly string[];
  /** Its digits are a JSON number (numbers channel). */
  number?: boolean;
  /** It is a map key in tool results (keys channel). */
  asKey?: boolean;
}

export interface Trap {
  kind: string;
  values: readonly string[];
  prose: readonly string[];
  keys: readonly string[];
  number?: boolean;
}

export const POSITIVES: readonly Positive[] = [
  // ---------------------------------------------------------------- core
  {
    detector: 'card',
    values: [
      '4539 1488 0343 6467',
      '5425 2334 3010 9903',
      '3714 496353 98431',
      '6011 0009 9013 9424',
      '4024007103939509',
      '5555-5555-5555-4444',
      '3566 0020 2036 0505',
    ],
    prose: [
      'Please charge my card {v} for the March invoice of $129.50.',
      'Card on file: {v}, exp 09/27.',
      'can you retry the payment with {v}? the first attempt on 2024-03-15 failed',
      'Customer read out {v} over the phone (ticket #48213).',
    ],
    keys: ['card_number', 'cc', 'payment_card', 'pan'],
    number: true,
    asKey: true,
  },
  {
    detector: 'iban',
    values: [
      'DE89 3704 0044 0532 0130 00',
      'GB82 WEST 1234 5698 7654 32',
      'FR76 3000 6000 0112 3456 7890 189',
      'NL91ABNA0417164300',
      'ES91 2100 0418 4502 0005 1332',
      'IT60X0542811101000000123456',
      'be68 5390 0754 7034',
    ],
    prose: [
      'Wire the refund of EUR 420.00 to {v} by Friday.',
      'Her IBAN is {v}.',
      'Bank details: {v} (reference INV-2024-0042)',
    ],
    keys: ['iban', 'bank_account', 'account'],
  },
  {
    detector: 'ssn',
    values: ['188-14-2806', '458-93-8617', '619-90-8598', '369 94 7337', '287-31-9235'],
    prose: [
      'My social security number is {v}.',
      'SSN {v} on the W-2 does not match.',
      'applicant ssn: {v}, dob withheld',
      'Employee record 2291 lists {v} as the SSN.',
    ],
    keys: ['ssn', 'social_security_number', 'taxpayerSsn'],
    number: true,
    asKey: true,
  },
  {
    detector: 'email',
    values: [
      'ada.lovelace@example.com',
      'j.smith+billing@acme-corp.co.uk',
      'grace_hopper@navy.example.org',
      'support.team@example.io',
    ],
    prose: [
      'Send the report to {v} before the 3pm call.',
      'you can reach me at {v}',
      'Forwarded from {v} on Tuesday.',
    ],
    keys: ['email', 'contact', 'reply_to'],
    asKey: true,
  },
  {
    detector: 'phone',
    values: [
      '+1 415 555 2671',
      '(212) 555-0147',
      '+44 20 7946 0958',
      '+49 30 90182050',
      '+33 1 42 68 53 00',
      '+81 3-1234-5678',
    ],
    prose: ['Call me back on {v} after 6.', 'Her mobile is {v}.', 'Phone: {v} (office hours 9-17)'],
    keys: ['phone', 'mobile', 'telephone'],
    number: true,
    asKey: true,
  },
  {
    detector: 'ipv4',
    values: ['192.168.10.24', '10.0.4.17', '203.0.113.45', '172.16.254.3'],
    prose: ['The login came from {v} at 02:14 UTC.', 'Block traffic from {v} on port 443.'],
    keys: ['ip', 'client_ip', 'remote_addr'],
  },
  {
    detector: 'ipv6',
    values: ['2001:db8:85a3::8a2e:370:7334', 'fe80::1ff:fe23:4567:890a', '2001:db8::42'],
    prose: ['Requests from {v} were rate limited.', 'host address {v}'],
    keys: ['ip', 'client_ip'],
  },
  {
    detector: 'dob',
    values: ['1985-03-12', '12/07/1979', '3 March 1990', 'July 4, 1962'],
    prose: [
      'Patient was born {v} in Leeds.',
      'DOB: {v}',
      'date of birth {v}, verified against the passport',
    ],
    keys: ['dob', 'date_of_birth', 'birthDate'],
  },
  // ---------------------------------------------------------------- national: US
  {
    detector: 'us_itin',
    values: ['954-71-0813', '998-99-2266', '943-80-6870', '909-71-2374'],
    prose: ['ITIN {v} was issued last year.', 'Taxpayer identification number (ITIN): {v}'],
    keys: ['itin', 'tax_id'],
  },
  {
    detector: 'us_passport',
    values: ['195052716', '215745764', 'D52491560', 'W99938094'],
    prose: ['Passport number {v}, expires 2031.', 'her US passport no. is {v}'],
    keys: ['passport_number', 'passport'],
  },
  {
    detector: 'us_driver_license',
    values: ['D1234567', 'S530-460-72-110-0', 'F25592150094', '123 456 789'],
    prose: ["Driver's license {v} (CA).", 'driver license number: {v}'],
    keys: ['drivers_license', 'dl_number'],
  },
  {
    detector: 'us_ein',
    values: ['52-1775193', '94-7055714', '12-5530229', '68-0788769'],
    prose: ['Our EIN is {v}.', 'Employer Identification Number: {v}'],
    keys: ['ein', 'employer_id'],
  },
  // ---------------------------------------------------------------- national: others
  {
    detector: 'uk_nino',
    values: ['AB 12 34 56 C', 'JG103759A', 'NE 24 68 10 B', 'SR491275D'],
    prose: ['National Insurance number {v}.', 'NI number: {v}', 'NINO {v} for payroll'],
    keys: ['ni_number', 'nino', 'national_insurance_number'],
  },
  {
    detector: 'ca_sin',
    values: ['394 717 086', '270-849-599', '543280481', '128 934 775'],
    prose: ['My SIN is {v}.', 'Social insurance number: {v}'],
    keys: ['sin', 'social_insurance_number'],
    number: true,
  },
  {
    detector: 'au_tfn',
    values: ['846 125 768', '764 835 741', '465654716', '479 776 205'],
    prose: ['Tax file number {v}.', 'TFN: {v}'],
    keys: ['tfn', 'tax_file_number'],
    number: true,
  },
  {
    detector: 'au_medicare',
    values: ['4843 45376 3', '3547 69792 6', '3969020091', '3790 84034 5'],
    prose: ['Medicare card {v} (IRN 1).', 'medicare number: {v}'],
    keys: ['medicare_number', 'medicare'],
  },
  {
    detector: 'au_abn',
    values: ['55 136 948 769', '71 980 070 293', '41768534803', '25 822 497 730'],
    prose: ['ABN {v} on the invoice.', 'Australian Business Number: {v}'],
    keys: ['abn'],
  },
  {
    detector: 'in_aadhaar',
    values: ['7750 6834 3150', '7294 7959 2382', '830807974158', '8407 7154 0279'],
    prose: ['Aadhaar number {v}.', 'my aadhar is {v}', 'UID {v} linked to the account'],
    keys: ['aadhaar', 'aadhaar_number', 'uid'],
    number: true,
  },
  {
    detector: 'in_pan',
    values: ['QOFPZ4263R', 'YGUPY1676C', 'PVLTP0362Q', 'ELFTP2192G'],
    prose: ['PAN {v} for TDS.', 'Permanent Account Number: {v}'],
    keys: ['pan', 'pan_number'],
  },
  {
    detector: 'br_cpf',
    values: ['391.007.149-09', '622.774.255-40', '576.371.901-88', '12284950337'],
    prose: ['CPF {v}.', 'O CPF do cliente é {v}.', 'cliente {v} pediu reembolso'],
    keys: ['cpf'],
    number: true,
  },
  {
    detector: 'br_cnpj',
    values: ['57.632.436/0001-10', '41.317.310/0001-11', '55496045000190'],
    prose: ['CNPJ {v}.', 'empresa {v} emitiu a nota'],
    keys: ['cnpj'],
  },
  {
    detector: 'es_dni',
    values: ['02083252G', '28789585-W', '30409461B', '18423666E'],
    prose: ['DNI {v}.', 'titular con NIF {v}', 'documento {v} caducado'],
    keys: ['dni', 'nif'],
  },
  {
    detector: 'es_nie',
    values: ['Y7967983S', 'X-7490063-K', 'Y0620486Y', 'X6885492M'],
    prose: ['NIE {v}.', 'residente con NIE {v}'],
    keys: ['nie'],
  },
  {
    detector: 'it_fiscal_code',
    values: ['GNPDDS66B07L518L', 'DGCSPP90A07B803Q', 'VDLZBT83L50C594W', 'CVTRRS93P62E575C'],
    prose: ['Codice fiscale {v}.', 'CF: {v}', 'intestatario {v}'],
    keys: ['codice_fiscale', 'fiscal_code'],
  },
  {
    detector: 'fr_nir',
    values: ['2 52 04 88 666 207 73', '1 64 07 27 012 846 35', '285026824614682'],
    prose: ['Numéro de sécurité sociale {v}.', 'NIR {v}'],
    keys: ['nir', 'numero_securite_sociale'],
  },
  {
    detector: 'de_tax_id',
    values: ['54 502 751 898', '51689493099', '96 261 508 766'],
    prose: ['Steuer-ID {v}.', 'steuerliche Identifikationsnummer: {v}'],
    keys: ['steuer_id', 'tax_id'],
    number: true,
  },
  {
    detector: 'nl_bsn',
    values: ['189486776', '6363.37.984', '596 460 016'],
    prose: ['BSN {v}.', 'burgerservicenummer: {v}'],
    keys: ['bsn', 'burgerservicenummer'],
  },
  {
    detector: 'be_national_number',
    values: ['60.01.12-258.67', '88.04.08-045.39', '92011155485'],
    prose: ['Rijksregisternummer {v}.', 'numéro national {v}'],
    keys: ['rijksregisternummer', 'national_number'],
  },
  {
    detector: 'pl_pesel',
    values: ['98051139150', '87020417865', '95011950431'],
    prose: ['PESEL {v}.', 'numer PESEL: {v}'],
    keys: ['pesel'],
    number: true,
  },
  {
    detector: 'se_personnummer',
    values: ['19500614-9651', '690324-5592', '19750903-4273'],
    prose: ['Personnummer {v}.', 'personnummer: {v}'],
    keys: ['personnummer'],
  },
  {
    detector: 'fi_hetu',
    values: ['191086-043W', '171079-411N', '031176-355V'],
    prose: ['Henkilötunnus {v}.', 'hetu {v}'],
    keys: ['henkilotunnus', 'hetu'],
  },
  {
    detector: 'ch_ahv',
    values: ['756.2596.9422.16', '756.4154.3401.20', '7567919709040'],
    prose: ['AHV-Nr. {v}.', 'numéro AVS {v}'],
    keys: ['ahv_number', 'avs'],
  },
  {
    detector: 'sg_nric',
    values: ['G0919390T', 'F3566395U', 'T8432128H', 'S5142075F'],
    prose: ['NRIC {v}.', 'FIN: {v}', 'holder {v} checked in'],
    keys: ['nric', 'fin'],
  },
  {
    detector: 'jp_my_number',
    values: ['1087 1317 9260', '870664037666', '8405 7547 5009'],
    prose: ['マイナンバーは{v}です。', 'My Number: {v}', '個人番号 {v}'],
    keys: ['my_number', 'mynumber'],
    number: true,
  },
  {
    detector: 'kr_rrn',
    values: ['980520-1903447', '920622-1526570', '840122-1053044'],
    prose: ['주민등록번호 {v}', 'RRN {v}', 'resident registration number {v}'],
    keys: ['rrn', 'resident_registration_number'],
  },
  {
    detector: 'cn_resident_id',
    values: ['440106198907190554', '110105195405258575', '310104199904151894'],
    prose: ['身份证号码 {v}', 'resident ID card {v}', '{v}'],
    keys: ['id_card', 'shenfenzheng'],
  },
  // ---------------------------------------------------------------- health
  {
    detector: 'uk_nhs',
    values: ['082 847 0634', '603 604 5573', '1913506878', '213 700 0806'],
    prose: ['NHS number {v}.', 'Patient NHS no: {v}', 'nhs {v} registered at the surgery'],
    keys: ['nhs_number', 'nhsNumber'],
    number: true,
  },
  {
    detector: 'us_npi',
    values: ['1291453557', '1127418642', '1421597539', '2531853002'],
    prose: ['Prescriber NPI {v}.', 'National Provider Identifier: {v}'],
    keys: ['npi', 'provider_npi'],
    number: true,
  },
  {
    detector: 'us_dea',
    values: ['AV7542093', 'ME4222941', 'RD7572084'],
    prose: ['DEA number {v}.', 'prescriber DEA# {v}'],
    keys: ['dea_number', 'dea'],
  },
  {
    detector: 'us_mbi',
    values: ['4N67-M79-GV92', '2T70AD2YV91', '2FM2-QJ7-GT87'],
    prose: ['Medicare Beneficiary Identifier {v}.', 'MBI: {v}', 'member {v}'],
    keys: ['mbi', 'medicare_id'],
  },
  {
    detector: 'icd10',
    values: ['E11.9', 'J45.909', 'I10', 'F32.1', 'M54.5'],
    prose: ['Primary diagnosis: {v}.', 'Diagnosis code {v} confirmed', 'ICD-10 {v}'],
    keys: ['diagnosis_code', 'icd10', 'dx'],
  },
  {
    detector: 'mrn',
    values: ['00482913', 'MRN-7741029', '55120398'],
    prose: ['MRN {v}.', 'medical record number: {v}', 'patient id {v}'],
    keys: ['mrn', 'medical_record_number', 'patient_id'],
  },
  // ---------------------------------------------------------------- finance
  {
    detector: 'aba_routing',
    values: ['217517250', '011487104', '085641536'],
    prose: ['Routing number {v}.', 'ABA {v}, account ending 1234'],
    keys: ['routing_number', 'aba'],
    number: true,
  },
  {
    detector: 'swift_bic',
    values: ['DEUTDEFF', 'BNPAFRPP', 'COBADEFFXXX', 'UBSWCHZH80A'],
    prose: ['SWIFT code {v}.', 'BIC: {v}'],
    keys: ['swift', 'bic'],
  },
  {
    detector: 'isin',
    values: ['US0378331005', 'DE0007164600', 'FR3851070637', 'CH1160392861'],
    prose: ['Buy 100 shares of {v} at market.', 'ISIN {v}'],
    keys: ['isin'],
  },
  {
    detector: 'cusip',
    values: ['037833100', '364928200', '789276201'],
    prose: ['CUSIP {v}.', 'cusip: {v}'],
    keys: ['cusip'],
  },
  {
    detector: 'bitcoin_address',
    values: [
      '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
      '342ftSRCvFHfCeFFBuz4xwbeqnDw6BGUey',
      'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
      'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297',
    ],
    prose: ['Send 0.05 BTC to {v}.', 'wallet {v}'],
    keys: ['btc_address', 'wallet'],
  },
  {
    detector: 'ethereum_address',
    values: [
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
      '0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae',
    ],
    prose: ['Send the USDC to {v}.', 'ETH wallet: {v}'],
    keys: ['eth_address', 'wallet'],
  },
];

/** Secrets: made by generate.ts (a prefix and a random body); here their sentences and keys. */
export const SECRET_CONTEXTS: Readonly<
  Record<string, { prose: readonly string[]; keys: readonly string[] }>
> = {
  aws_access_key: {
    prose: ['AWS_ACCESS_KEY_ID={v}', 'use access key {v} for the backup job'],
    keys: ['aws_access_key_id', 'access_key'],
  },
  aws_secret_key: {
    prose: ['aws_secret_access_key = {v}', 'AWS secret access key: {v}'],
    keys: ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY'],
  },
  github_token: {
    prose: ['export GITHUB_TOKEN={v}', 'the CI uses {v} to push tags'],
    keys: ['github_token', 'gh_token'],
  },
  gitlab_token: { prose: ['GITLAB_TOKEN: {v}', 'clone with {v}'], keys: ['gitlab_token'] },
  stripe_key: { prose: ['STRIPE_SECRET_KEY={v}', 'stripe key {v}'], keys: ['stripe_key'] },
  openai_key: { prose: ['OPENAI_API_KEY={v}', 'my key is {v}'], keys: ['openai_api_key'] },
  anthropic_key: { prose: ['ANTHROPIC_API_KEY={v}', 'use {v}'], keys: ['anthropic_api_key'] },
  slack_token: { prose: ['SLACK_BOT_TOKEN={v}', 'bot token {v}'], keys: ['slack_token'] },
  slack_webhook: {
    prose: ['Post alerts to {v}', 'webhook: {v}'],
    keys: ['webhook_url', 'slack_webhook'],
  },
  google_api_key: {
    prose: ['GOOGLE_API_KEY={v}', 'maps key {v}'],
    keys: ['google_api_key', 'maps_key'],
  },
  google_oauth_secret: {
    prose: ['client_secret: {v}', 'GOOGLE_CLIENT_SECRET={v}'],
    keys: ['client_secret'],
  },
  azure_storage_key: {
    prose: [
      'DefaultEndpointsProtocol=https;AccountName=billingstore;AccountKey={v};EndpointSuffix=core.windows.net',
      'storage account key: {v}',
    ],
    keys: ['account_key', 'azure_storage_key'],
  },
  twilio_key: { prose: ['TWILIO_API_KEY={v}', 'twilio key {v}'], keys: ['twilio_api_key'] },
  sendgrid_key: { prose: ['SENDGRID_API_KEY={v}', 'sendgrid {v}'], keys: ['sendgrid_api_key'] },
  mailgun_key: { prose: ['MAILGUN_API_KEY={v}', 'mailgun {v}'], keys: ['mailgun_api_key'] },
  npm_token: {
    prose: ['//registry.npmjs.org/:_authToken={v}', 'NPM_TOKEN={v}'],
    keys: ['npm_token'],
  },
  pypi_token: { prose: ['password = {v}', 'TWINE_PASSWORD={v}'], keys: ['pypi_token'] },
  huggingface_token: { prose: ['HF_TOKEN={v}', 'hugging face token {v}'], keys: ['hf_token'] },
  datadog_key: {
    prose: ['DD_API_KEY={v}', 'datadog api key {v}'],
    keys: ['dd_api_key', 'datadog_api_key'],
  },
  digitalocean_token: { prose: ['DIGITALOCEAN_TOKEN={v}', 'do token {v}'], keys: ['do_token'] },
  shopify_token: { prose: ['SHOPIFY_ACCESS_TOKEN={v}', 'shopify {v}'], keys: ['shopify_token'] },
  url_credentials: {
    prose: [
      'DATABASE_URL=postgres://billing:{v}@db.internal:5432/billing',
      'amqps://svc:{v}@mq.example.com/prod',
    ],
    keys: ['password'],
  },
  private_key: { prose: ['{v}'], keys: ['private_key', 'ssh_key'] },
  jwt: {
    prose: ['Authorization: Bearer {v}', 'id token {v}'],
    keys: ['id_token', 'access_token'],
  },
  secret: {
    prose: ['password: {v}', 'DB_PASSWORD={v}', 'the api_key is {v}'],
    keys: ['password', 'api_key', 'client_secret'],
  },
};

/** Values that look like something sensitive and are not: every finding on one is wrong. */
export const TRAPS: readonly Trap[] = [
  {
    kind: 'uuid',
    values: [
      '550e8400-e29b-41d4-a716-446655440000',
      '6fa459ea-ee8a-3ca4-894e-db77e160355e',
      '123e4567-e89b-12d3-a456-426614174000',
    ],
    prose: ['Request {v} failed with 502.', 'trace id {v}'],
    keys: ['id', 'request_id', 'trace_id'],
  },
  {
    kind: 'order number',
    values: ['ORD-2024-000123', 'A-10023-77', '100234981', 'PO 4500012345', '#7788-9921'],
    prose: ['Order {v} shipped yesterday.', 'Your order number is {v}.'],
    keys: ['order_id', 'order_number'],
  },
  {
    kind: 'timestamp',
    values: [
      '2024-03-15T14:22:05Z',
      '1710512525',
      '1710512525123',
      '2024-03-15 14:22:05.123456',
      '20240315142205',
    ],
    prose: ['Created at {v}.', 'last modified {v}'],
    keys: ['created_at', 'timestamp', 'ts'],
    number: true,
  },
  {
    kind: 'git sha',
    values: [
      '3f786850e387550fdab836ed7e6dc881de23001b',
      'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
      '9fceb02',
    ],
    prose: ['Reverted commit {v}.', 'deployed {v} to staging'],
    keys: ['commit', 'sha'],
  },
  {
    kind: 'price',
    values: ['$1,234.56', '4111.11', 'EUR 9,999.00', '12.345,67 €', '0.00045 BTC'],
    prose: ['The total is {v}.', 'refund of {v} approved'],
    keys: ['amount', 'total'],
  },
  {
    kind: 'isbn',
    values: ['978-0-306-40615-7', '0-306-40615-2', '9780306406157', 'ISBN 978-3-16-148410-0'],
    prose: ['Cite {v} in the bibliography.', 'book {v}'],
    keys: ['isbn'],
  },
  {
    kind: 'tracking number',
    values: [
      '1Z999AA10123456784',
      '9400 1000 0000 0000 0000 00',
      '7946 1234 5670',
      'RA123456789GB',
    ],
    prose: ['Tracking number {v}.', 'your parcel {v} is out for delivery'],
    keys: ['tracking_number'],
  },
  {
    kind: 'luhn-failing 16 digits',
    values: [
      '4111 1111 1111 1112',
      '5425233430109904',
      '1234 5678 9012 3456',
      '4539-1488-0343-6468',
    ],
    prose: ['Reference {v}.', 'batch {v} processed'],
    keys: ['reference', 'batch_id'],
    number: true,
  },
  {
    kind: 'invalid ssn',
    values: ['000-12-3456', '666-45-6789', '912-34-5678', '123-00-4567', '536-22-0000'],
    prose: ['Case {v} closed.', 'form field {v}'],
    keys: ['case_number'],
  },
  {
    kind: 'not a phone',
    values: ['123-456-7890', '555-123-4567', '2024-0315-01', '100-200-3000'],
    prose: ['Part number {v}.', 'room {v}'],
    keys: ['part_number', 'sku'],
  },
  {
    kind: 'version',
    values: ['1.2.3.4', 'v10.2.3', '2.0.0-rc.1', '4.18.2'],
    prose: ['Upgraded to version {v}.', 'build {v} is live'],
    keys: ['version'],
  },
  {
    kind: 'hash',
    values: [
      '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'd41d8cd98f00b204e9800998ecf8427e',
      'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae',
    ],
    prose: ['Checksum {v}.', 'image digest {v}'],
    keys: ['checksum', 'digest', 'etag'],
  },
  {
    kind: 'identifier',
    values: [
      '507f1f77bcf86cd799439011',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'C0123ABCD',
      'pk_live_51HqLyjWDarjtT1zdp7dcEXAMPLE',
      'cus_NffrFeUfNV2Hib',
    ],
    prose: ['Record {v} updated.', 'object {v}'],
    keys: ['object_id', 'customer_id'],
  },
  {
    kind: 'date',
    values: ['2024-01-05', '03/12/2023', '12 March 2024', 'March 12th, 2025'],
    prose: ['Meeting on {v}.', 'invoice dated {v}'],
    keys: ['date', 'due_date'],
  },
  {
    kind: 'number',
    values: ['536221234', '4155552671', '123456789012', '12345678901', '9876543210123'],
    prose: ['Ticket {v} escalated.', 'invoice {v}'],
    keys: ['invoice_id', 'ticket'],
    number: true,
  },
  {
    kind: 'bad checksum',
    values: [
      'DE89 3704 0044 0532 0130 01',
      '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3',
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD',
      '123.456.789-00',
      'GNPDDS66B07L518M',
    ],
    prose: ['Value {v} was rejected.', 'bad input {v}'],
    keys: ['value', 'input'],
  },
  {
    kind: 'placeholder',
    values: [
      'postgres://user:${DB_PASSWORD}@db:5432/app',
      'mysql://root:****@localhost/test',
      'sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'user@localhost',
    ],
    prose: ['Example: {v}', 'set it like {v}'],
    keys: ['example', 'template'],
  },
  {
    kind: 'code and text',
    values: [
      'if (x > 0) return y * 1000;',
      'TOKEN_RE = /^tok_([a-z0-9]{1,24})_/',
      'the token expired yesterday',
      'password requirements: 12 characters',
      'see section E11 of the manual',
    ],
    prose: ['{v}', 'note: {v}'],
    keys: ['note', 'snippet'],
  },
  {
    kind: 'callguard token',
    values: [
      'tok_card_b1_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf',
      'tok_ssn_b1_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210-_ZyXwVu',
    ],
    prose: ['Paid with {v}.', 'token {v}'],
    keys: ['card_token'],
  },
];

/** Longer texts as people and tools write them: several values, noise, no template. */
export interface Realistic {
  text: string;
  labels: readonly { detector: string; value: string }[];
}

export const REALISTIC: readonly Realistic[] = [
  {
    text: 'Hi team, customer Jane Roe (jane.roe@example.net, +1 415 555 2671) disputes the $89.99 charge on card 4539 1488 0343 6467 from 2024-03-02. Order ORD-2024-000123, ticket #48213.',
    labels: [
      { detector: 'email', value: 'jane.roe@example.net' },
      { detector: 'phone', value: '+1 415 555 2671' },
      { detector: 'card', value: '4539 1488 0343 6467' },
    ],
  },
  {
    text: 'Payroll update for employee 2291: SSN 287-31-9235, direct deposit to routing 011487104, account ending 4821. Effective 04/01/2024.',
    labels: [
      { detector: 'ssn', value: '287-31-9235' },
      { detector: 'aba_routing', value: '011487104' },
    ],
  },
  {
    text: 'Referral letter. Patient: M. Khan, NHS No. 603 604 5573, DOB 14/02/1961. Presenting with poorly controlled type 2 diabetes (ICD-10 E11.65). Please review at the clinic on 12 May.',
    labels: [
      { detector: 'uk_nhs', value: '603 604 5573' },
      { detector: 'dob', value: '14/02/1961' },
      { detector: 'icd10', value: 'E11.65' },
    ],
  },
  {
    text: '```\n# .env.production\nDATABASE_URL=postgres://billing:Zx81-qP4vW@db.internal:5432/billing\nREDIS_URL=redis://cache.internal:6379/0\nLOG_LEVEL=info\n```\nwhy does the worker crash on boot?',
    labels: [{ detector: 'url_credentials', value: 'Zx81-qP4vW' }],
  },
  {
    text: 'Beneficiary: Müller GmbH, IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX. Amount EUR 12.450,00, reference RE-2024-0917.',
    labels: [
      { detector: 'iban', value: 'DE89 3704 0044 0532 0130 00' },
      { detector: 'swift_bic', value: 'COBADEFFXXX' },
    ],
  },
  {
    text: 'Nome: Mario Rossi; codice fiscale RSSMRA85T10A562S; telefono +39 06 6982 1234; email mario.rossi@example.it',
    labels: [
      { detector: 'it_fiscal_code', value: 'RSSMRA85T10A562S' },
      { detector: 'phone', value: '+39 06 6982 1234' },
      { detector: 'email', value: 'mario.rossi@example.it' },
    ],
  },
  {
    text: 'KYC check passed for applicant with PAN ABCPE1234F and Aadhaar 2345 6789 0124; mobile +91 98765 43210.',
    labels: [
      { detector: 'in_pan', value: 'ABCPE1234F' },
      { detector: 'in_aadhaar', value: '2345 6789 0124' },
      { detector: 'phone', value: '+91 98765 43210' },
    ],
  },
  {
    text: 'Cadastro: João Silva, CPF 123.456.789-09, nascido em 1984, CEP 01310-100, São Paulo.',
    labels: [{ detector: 'br_cpf', value: '123.456.789-09' }],
  },
  {
    text: 'Build 1.4.2 failed: upload step used token ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 from the runner cache; commit 3f786850e387550fdab836ed7e6dc881de23001b.',
    labels: [{ detector: 'github_token', value: 'ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5' }],
  },
  {
    text: 'Claim #CLM-88213 for member 1EG4-TE5-MK73 (Medicare), provider NPI 1234567893, diagnosis J45.909, billed $1,240.00 on 2024-02-28.',
    labels: [
      { detector: 'us_mbi', value: '1EG4-TE5-MK73' },
      { detector: 'us_npi', value: '1234567893' },
      { detector: 'icd10', value: 'J45.909' },
    ],
  },
  {
    text: 'Nuevo empleado: DNI 12345678Z, teléfono +34 612 34 56 78, alta el 1 de marzo. Su compañera tiene NIE X1234567L.',
    labels: [
      { detector: 'es_dni', value: '12345678Z' },
      { detector: 'phone', value: '+34 612 34 56 78' },
      { detector: 'es_nie', value: 'X1234567L' },
    ],
  },
  {
    text: 'Tracking 1Z999AA10123456784 delivered to 221B Baker St. Invoice 2024-0042 total £1,234.56. Questions? ops@example.co.uk',
    labels: [{ detector: 'email', value: 'ops@example.co.uk' }],
  },
  {
    text: 'Seed phrase stored offline; payout wallet 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, backup BTC address bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq.',
    labels: [
      { detector: 'ethereum_address', value: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' },
      { detector: 'bitcoin_address', value: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' },
    ],
  },
  {
    text: 'Loan application: applicant SIN 130 692 544, annual income CAD 84,000, employer since 2019, phone (416) 555-0199.',
    labels: [
      { detector: 'ca_sin', value: '130 692 544' },
      { detector: 'phone', value: '(416) 555-0199' },
    ],
  },
  {
    text: 'Server 10.20.30.40 rejected login for admin from 203.0.113.77 at 2024-03-15T02:14:00Z (attempt 3 of 5).',
    labels: [
      { detector: 'ipv4', value: '10.20.30.40' },
      { detector: 'ipv4', value: '203.0.113.77' },
    ],
  },
  {
    text: 'Steuerbescheid 2023: Steuer-ID 65 929 970 489, Finanzamt München, Betrag 1.234,56 EUR, Aktenzeichen 143/567/89012.',
    labels: [{ detector: 'de_tax_id', value: '65 929 970 489' }],
  },
  {
    text: 'Reminder: the meeting is on 2024-04-02 at 14:00 in room 3.12; dial-in code 123 456 789; agenda v2.3.1 attached.',
    labels: [],
  },
  {
    text: 'Order 4111111111111112 was flagged as a test order; UUID 550e8400-e29b-41d4-a716-446655440000; ISBN 978-0-306-40615-7.',
    labels: [],
  },
  {
    text: 'Ship to: 10 Downing St, London SW1A 2AA. Parcel RA123456789GB, weight 2.5 kg, declared value $45.00, order #100234981.',
    labels: [],
  },
  {
    text: 'Release notes 4.18.2: fixed crash in parser (issue 12345), bumped node to v20.11.1, build 2024.03.15.1.',
    labels: [],
  },
  {
    text: '| name | ssn | phone |\n|---|---|---|\n| Ada | 536-22-1234 | 415-555-2671 |\n| Bob | 458-93-8617 | (212) 555-0147 |',
    labels: [
      { detector: 'ssn', value: '536-22-1234' },
      { detector: 'phone', value: '415-555-2671' },
      { detector: 'ssn', value: '458-93-8617' },
      { detector: 'phone', value: '(212) 555-0147' },
    ],
  },
  {
    text: 'name,email,card\nAda,ada@example.com,4111111111111111\nBob,bob@example.org,5555555555554444',
    labels: [
      { detector: 'email', value: 'ada@example.com' },
      { detector: 'card', value: '4111111111111111' },
      { detector: 'email', value: 'bob@example.org' },
      { detector: 'card', value: '5555555555554444' },
    ],
  },
  {
    text: 'reach me on 07700 900123 or drop a line to ada@example.com',
    labels: [
      { detector: 'phone', value: '07700 900123' },
      { detector: 'email', value: 'ada@example.com' },
    ],
  },
  {
    text: 'He was born on the 12th of March 1985 in Leeds; his date of birth is on file as 12.03.1985.',
    labels: [
      { detector: 'dob', value: '12th of March 1985' },
      { detector: 'dob', value: '12.03.1985' },
    ],
  },
  {
    text: 'Patient ID: 00482913 — Dx: I10 (essential hypertension), Rx by Dr. Lee (NPI 1234567893)',
    labels: [
      { detector: 'mrn', value: '00482913' },
      { detector: 'icd10', value: 'I10' },
      { detector: 'us_npi', value: '1234567893' },
    ],
  },
  {
    text: 'The SSN field is optional. Order 536221234 shipped on 2024-03-15; your verification code is 482913.',
    labels: [],
  },
  {
    text: 'SSN: ***-**-1234, CVV 123, exp 09/27, ZIP 94103, lat 51.5072, lon -0.1276, MAC 00:1A:2B:3C:4D:5E',
    labels: [],
  },
];
