// JSON Schema of a policy document (policies/*.yaml). A document that does not validate is
// refused at load with the file, line and problem.

import { ALL_PACKS, CUSTOM_VALIDATORS, PACK_NAMES } from '../detect/index.js';
import type { CustomValidator } from '../detect/index.js';
import type { FromSchema } from 'json-schema-to-ts';

/** Detector packs (docs/detectors.md): a list of pack names, `all` for every pack. */
const packList = {
  type: 'array',
  items: { enum: [...PACK_NAMES, ALL_PACKS] },
  uniqueItems: true,
} as const;

const stringList = {
  oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
} as const;

export const POLICY_DOCUMENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://callguard.dev/schemas/policy.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    levels: {
      type: 'array',
      items: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' },
      minItems: 2,
    },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        action: { $ref: '#/$defs/action' },
        record: { enum: ['masked', 'metadata', 'none'] },
      },
    },
    detectors: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /**
         * Levels of the detectors on this policy's ladder: a built-in level name (`internal`,
         * `confidential`, `restricted`) → a level maps every built-in detector of that
         * level; a detector id → a level sets that detector's level (a route's own wins).
         */
        levels: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
        /** The built-in packs every route runs unless it names its own; default: every pack. */
        packs: packList,
        custom: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'level'],
            properties: {
              id: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
              level: { type: 'string' },
              pattern: { type: 'string', minLength: 1 },
              dictionary: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
              context: { type: 'array', items: { type: 'string', minLength: 1 } },
              context_required: { type: 'boolean' },
              min_score: { type: 'number', minimum: 0, maximum: 1 },
              validate: { enum: Object.keys(CUSTOM_VALIDATORS) as CustomValidator[] },
              exclude: { type: 'array', items: { type: 'string', minLength: 1 } },
              exclude_pattern: { type: 'string', minLength: 1 },
            },
            oneOf: [{ required: ['pattern'] }, { required: ['dictionary'] }],
          },
        },
      },
    },
    analyzers: {
      type: 'object',
      propertyNames: { pattern: '^[a-z][a-z0-9_-]{0,63}$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['kind', 'url', 'entities'],
        properties: {
          /** presidio: Presidio analyzer's REST API; webhook: callguard's own contract. */
          kind: { enum: ['presidio', 'webhook'] },
          /** presidio: the service's base URL (POST <url>/analyze); webhook: the endpoint. */
          url: { type: 'string', pattern: '^https?://[^\\s]+$' },
          /** The entity types it reports, each mapped to a detector id and a level. */
          entities: {
            type: 'object',
            minProperties: 1,
            propertyNames: { pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
            additionalProperties: {
              type: 'object',
              additionalProperties: false,
              required: ['detector', 'level'],
              properties: {
                detector: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
                level: { type: 'string' },
                min_score: { type: 'number', minimum: 0, maximum: 1 },
              },
            },
          },
          /** presidio only: the language of the texts. */
          language: { type: 'string', pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$' },
          score_threshold: { type: 'number', minimum: 0, maximum: 1 },
          timeout: { $ref: '#/$defs/duration' },
          max_concurrency: { type: 'integer', minimum: 1, maximum: 1024 },
          on_error: { enum: ['block', 'allow_with_record'] },
          mode: { $ref: '#/$defs/mode' },
          cache: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ttl: { $ref: '#/$defs/duration' },
              max_entries: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            },
          },
        },
      },
    },
    functions: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          description: { type: 'string' },
          request: { type: 'string', minLength: 1 },
          response: { type: 'string', minLength: 1 },
        },
      },
    },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$' },
          match: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              path: { type: 'string', pattern: '^/' },
              path_prefix: { type: 'string', pattern: '^/' },
              methods: { type: 'array', items: { type: 'string', pattern: '^[A-Z]+$' } },
            },
            not: { required: ['path', 'path_prefix'] },
          },
          function: { type: 'string' },
          public: { type: 'boolean' },
          format: { enum: ['json', 'openai-chat', 'openai-responses', 'anthropic', 'mcp'] },
          detectors: {
            type: 'object',
            additionalProperties: false,
            // `enabled` names the exact detectors: packs would say something else.
            not: { required: ['packs', 'enabled'] },
            properties: {
              /** The built-in packs this route runs (instead of the policy's). */
              packs: packList,
              /** Only these (built-in or custom ids), whatever the packs. */
              enabled: { type: 'array', items: { type: 'string' } },
              disabled: { type: 'array', items: { type: 'string' } },
              /** Per-detector level overrides. */
              levels: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
          /** Request and response headers whose values the detectors read. */
          inspect_headers: {
            type: 'array',
            items: { type: 'string', pattern: "^[a-z0-9!#$%&'*+.^_`|~-]+$" },
            uniqueItems: true,
          },
          /** External analyzers (names under `analyzers:`) run over this route's texts. */
          analyzers: {
            type: 'array',
            items: { type: 'string' },
            uniqueItems: true,
          },
          /** monitor: findings are recorded, nothing is changed or refused. */
          mode: { $ref: '#/$defs/mode' },
          detokenize: {
            type: 'object',
            additionalProperties: false,
            required: ['groups'],
            properties: { groups: { type: 'array', items: { type: 'string' }, minItems: 1 } },
          },
          access: {
            type: 'object',
            additionalProperties: false,
            properties: {
              anonymous: { type: 'boolean' },
              require_groups: { type: 'array', items: { type: 'string' } },
              sources: {
                type: 'array',
                items: { enum: ['oidc', 'jwt_authn', 'saml', 'dev-header'] },
                minItems: 1,
              },
            },
          },
          upstream_headers: {
            type: 'object',
            additionalProperties: false,
            properties: {
              strip_authorization: { type: 'boolean' },
              identity: { type: 'boolean' },
            },
          },
        },
      },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'action'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$' },
          description: { type: 'string' },
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              level: stringList,
              min_level: { type: 'string' },
              direction: {
                oneOf: [
                  { enum: ['request', 'response'] },
                  { type: 'array', items: { enum: ['request', 'response'] }, minItems: 1 },
                ],
              },
              groups: stringList,
              not_groups: stringList,
              routes: stringList,
              functions: stringList,
              detectors: stringList,
              source: { enum: ['contract', 'detector'] },
            },
          },
          action: { $ref: '#/$defs/action' },
          record: { enum: ['masked', 'metadata', 'none'] },
        },
      },
    },
  },
  $defs: {
    mode: { enum: ['enforce', 'monitor'] },
    /** `30m`, `20s`, `1h`, `500ms`, or milliseconds as an integer. */
    duration: {
      oneOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
      ],
    },
    action: {
      oneOf: [
        { enum: ['allow', 'mask', 'redact', 'block', 'tokenize'] },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: {
            type: { const: 'mask' },
            keep_first: { type: 'integer', minimum: 0 },
            keep_last: { type: 'integer', minimum: 0 },
            mask_char: { type: 'string', minLength: 1, maxLength: 1 },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: { type: { enum: ['allow', 'redact', 'block', 'tokenize'] } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'approvers'],
          properties: {
            type: { const: 'hold' },
            approvers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
            min_approvals: { type: 'integer', minimum: 1, maximum: 10 },
            break_glass: { type: 'array', items: { type: 'string', minLength: 1 } },
            expires: { $ref: '#/$defs/duration' },
            wait: { $ref: '#/$defs/duration' },
          },
        },
      ],
    },
  },
} as const;

/** The document shape the schema admits, derived from it (json-schema-to-ts). */
export type PolicyDocument = FromSchema<typeof POLICY_DOCUMENT_SCHEMA>;

type Defs = typeof POLICY_DOCUMENT_SCHEMA.$defs;
/** A `$defs` entry as a type: the same schema, with the document's `$defs` for its `$ref`s. */
type Def<K extends keyof Defs> = FromSchema<Defs[K] & { $defs: Defs }>;

export type ActionDoc = Def<'action'>;
export type HoldDoc = Extract<ActionDoc, { type: 'hold' }>;
export type RouteDoc = NonNullable<PolicyDocument['routes']>[number];
export type RuleDoc = NonNullable<PolicyDocument['rules']>[number];
export type AnalyzerDoc = NonNullable<PolicyDocument['analyzers']>[string];
/** A custom detector as policy YAML writes it: what the detectors library compiles. */
export type CustomDetectorDoc = NonNullable<
  NonNullable<PolicyDocument['detectors']>['custom']
>[number];
