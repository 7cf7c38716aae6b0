// The configuration and policy types are derived from their schemas (json-schema-to-ts):
// these compile-time checks (run by `tsc`, and trivially by vitest) fail if a derivation
// falls back to `unknown`/`any` or stops matching what the code reads.

import { expectTypeOf, it } from 'vitest';
import type {
  AdminUiConfig,
  Config,
  FingerprintKeyConfig,
  OidcIssuerConfig,
  TokenKeyConfig,
} from '../../src/config/config.js';
import type { CustomDetectorConfig, CustomValidator } from '../../src/detect/index.js';
import type {
  ActionDoc,
  AnalyzerDoc,
  CustomDetectorDoc,
  HoldDoc,
  PolicyDocument,
  RouteDoc,
  RuleDoc,
} from '../../src/policy/schema.js';

it('the configuration types come from CONFIG_SCHEMA, defaulted keys required', () => {
  expectTypeOf<Config>().not.toBeAny();
  expectTypeOf<Config['limits']['max_depth']>().toEqualTypeOf<number>();
  expectTypeOf<Config['log']['level']>().toEqualTypeOf<
    'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  >();
  expectTypeOf<Config['audit']['spool']['on_full']>().toEqualTypeOf<'refuse' | 'drop'>();
  expectTypeOf<AdminUiConfig['oidc']['redirect_uri']>().toEqualTypeOf<string>();
  expectTypeOf<OidcIssuerConfig['clock_skew_s']>().toEqualTypeOf<number>();
  // Every secret source has the same three optional keys.
  expectTypeOf<TokenKeyConfig['secret_env']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<FingerprintKeyConfig['secret_file']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<AdminUiConfig['oidc']['client_secret_file']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<NonNullable<OidcIssuerConfig['introspection']>['client_secret']>().toEqualTypeOf<
    string | undefined
  >();
});

it('the policy document types come from POLICY_DOCUMENT_SCHEMA', () => {
  expectTypeOf<PolicyDocument>().not.toBeAny();
  expectTypeOf<RouteDoc['name']>().toEqualTypeOf<string>();
  expectTypeOf<RouteDoc['format']>().toEqualTypeOf<
    'json' | 'openai-chat' | 'openai-responses' | 'anthropic' | 'mcp' | undefined
  >();
  expectTypeOf<Extract<ActionDoc, string>>().toEqualTypeOf<
    'allow' | 'mask' | 'redact' | 'block' | 'tokenize'
  >();
  expectTypeOf<HoldDoc['approvers']>().toEqualTypeOf<string[]>();
  expectTypeOf<AnalyzerDoc['timeout']>().toEqualTypeOf<number | string | undefined>();
  expectTypeOf<NonNullable<RuleDoc['match']>['direction']>().toEqualTypeOf<
    'request' | 'response' | ('request' | 'response')[] | undefined
  >();
  expectTypeOf<CustomDetectorDoc['validate']>().toEqualTypeOf<CustomValidator | undefined>();
  expectTypeOf<CustomDetectorDoc>().toExtend<CustomDetectorConfig>();
});
