// A real OIDC issuer on loopback for tests: oidc-provider 8 serving discovery, JWKS and the
// token endpoint on 127.0.0.1, issuing JWT access tokens through the real client_credentials
// grant. Clients are registered on the fly (in the provider's own client store) so that each
// (clientId, groups, email) a test asks for is a confidential client whose metadata carries
// the groups; `extraTokenClaims` copies them into the token at the configured claim path.
//
// oidc-provider 8 ships no type declarations, so it is imported dynamically through a
// specifier TypeScript does not resolve, and the few parts used here are typed locally.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';

export interface TestIdpOptions {
  /** 0 (default) picks a free port; the issuer URL includes the real port. */
  port?: number;
  /** Where the groups go in the token: 'groups' (default), 'roles', 'realm_access.roles', 'resource_access.<client>.roles' (nested objects). */
  groupsClaim?: string;
  /** Signing keys as private JWKs (with kid and alg). Default: one fresh RS256 key. The first is the current signing key. */
  keys?: JWK[];
  /** Lifetime of issued access tokens (default 600). */
  accessTokenTtlSeconds?: number;
  /**
   * People who sign in interactively (authorization code flow, oidc-provider's own login
   * form: any password): login name → the claims their ID token carries.
   */
  users?: Record<string, { groups: string[]; email?: string; name?: string }>;
}

export interface TestIdp {
  /** http://127.0.0.1:PORT, exactly the discovery document's "issuer" and the tokens' "iss". */
  issuer: string;
  port: number;
  /** Private JWKs in use, current signing key first (tests craft bad tokens with them). */
  keys: JWK[];
  /** A signed JWT access token obtained through the real client_credentials grant (HTTP POST to the token endpoint with client_secret_basic), for the given audience (resource indicator) and groups claim, with sub = clientId. */
  clientCredentialsToken(opts: {
    clientId: string;
    audience: string;
    groups?: string[];
    email?: string;
    scope?: string;
  }): Promise<string>;
  /**
   * Registers a confidential web client for the authorization code flow (PKCE required,
   * client_secret_basic at the token endpoint); consent is pre-granted (a first-party app).
   */
  /** A confidential client that may call the RFC 7662 introspection endpoint (a gateway). */
  registerIntrospectionClient(clientId: string, clientSecret: string): Promise<void>;
  registerWebClient(opts: {
    clientId: string;
    clientSecret: string;
    redirectUris: string[];
  }): Promise<void>;
  /** A new current signing key (the old ones kept in JWKS, or dropped if dropOld), like an IdP rotating keys; same port, no downtime. */
  rotate(opts?: { dropOld?: boolean; alg?: 'RS256' | 'ES256' }): Promise<void>;
  /** Closes the listener and every connection: the port then refuses connections. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same keys and clients. */
  start(): Promise<void>;
}

// --- the parts of oidc-provider 8 used here -------------------------------------------------

interface ProviderClient {
  clientId: string;
  [metadata: string]: unknown;
}

interface ProviderGrant {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}

interface ProviderCtx {
  oidc: {
    client?: ProviderClient;
    params: { scope?: string };
    result?: { consent?: { grantId?: string } };
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    provider: {
      Grant: {
        new (init: { clientId: string; accountId: string }): ProviderGrant;
        find(id: string): Promise<ProviderGrant | undefined>;
      };
    };
  };
}

interface OidcProvider {
  readonly issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: 'server_error', listener: (ctx: unknown, err: Error) => void): unknown;
}

type OidcProviderClass = new (issuer: string, configuration: object) => OidcProvider;

let providerClass: Promise<OidcProviderClass> | undefined;

function loadProvider(): Promise<OidcProviderClass> {
  const specifier: string = 'oidc-provider';
  providerClass ??= (import(specifier) as Promise<{ default: OidcProviderClass }>).then(
    (m) => m.default,
  );
  return providerClass;
}

// --- storage ----------------------------------------------------------------------------------

interface Entry {
  payload: Record<string, unknown>;
  expiresAt: number | undefined;
}

/** oidc-provider's adapter contract over a Map owned by the harness (it outlives restarts). */
/* eslint-disable @typescript-eslint/require-await -- the contract is async; a Map has nothing to await */
class MapAdapter {
  constructor(
    private readonly store: Map<string, Entry>,
    private readonly model: string,
  ) {}

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  private live(key: string): Entry | undefined {
    const e = this.store.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.store.delete(key);
      return undefined;
    }
    return e;
  }

  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
    this.store.set(this.key(id), {
      payload: structuredClone(payload),
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
    });
  }

  async find(id: string): Promise<Record<string, unknown> | undefined> {
    const e = this.live(this.key(id));
    return e ? structuredClone(e.payload) : undefined;
  }

  private async findBy(field: string, value: string): Promise<Record<string, unknown> | undefined> {
    for (const [key, e] of this.store) {
      if (key.startsWith(`${this.model}:`) && e.payload[field] === value && this.live(key)) {
        return structuredClone(e.payload);
      }
    }
    return undefined;
  }

  findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
    return this.findBy('uid', uid);
  }

  findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
    return this.findBy('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const e = this.live(this.key(id));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, e] of this.store) {
      if (e.payload.grantId === grantId) this.store.delete(key);
    }
  }
}
/* eslint-enable @typescript-eslint/require-await */

// --- keys and claims --------------------------------------------------------------------------

type SigningAlg = 'RS256' | 'ES256';

async function newSigningKey(alg: SigningAlg): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}

async function normalizeKey(key: JWK): Promise<JWK> {
  if (!key.d) throw new Error('test IdP keys must be private JWKs');
  const alg = key.alg ?? (key.kty === 'EC' ? 'ES256' : key.kty === 'OKP' ? 'EdDSA' : 'RS256');
  return { ...key, alg, kid: key.kid ?? (await calculateJwkThumbprint(key)), use: 'sig' };
}

/** { a: { b: value } } for the path 'a.b'. */
function nestedClaim(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  let out: unknown = value;
  for (let i = parts.length - 1; i >= 0; i--) out = { [parts[i]!]: out };
  return out as Record<string, unknown>;
}

// Client metadata properties carrying what a test asked the token to say.
const GROUPS_PROP = 'callguard_test_groups';
const EMAIL_PROP = 'callguard_test_email';
// Audiences that are not absolute URIs (e.g. 'callguard') cannot be RFC 8707 resource
// indicators; they travel as this URN and come back out as the token's "aud".
const AUDIENCE_URN = 'urn:callguard-test-idp:audience:';

/** `opaque:<audience>` asks for an opaque (non-JWT) access token for that audience. */
const OPAQUE_PREFIX = 'opaque:';

function resourceFor(audience: string): string {
  return URL.canParse(audience) && !audience.includes('#')
    ? audience
    : AUDIENCE_URN + encodeURIComponent(audience);
}

function audienceFor(resource: string): string {
  return resource.startsWith(AUDIENCE_URN)
    ? decodeURIComponent(resource.slice(AUDIENCE_URN.length))
    : resource;
}

// --- the harness ------------------------------------------------------------------------------

class TestIdpHarness implements TestIdp {
  readonly issuer: string;
  readonly port: number;
  private currentKeys: JWK[];
  private handler: (req: IncomingMessage, res: ServerResponse) => void;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly secrets = new Map<string, string>();
  private lastServerError: Error | undefined;
  /** Token requests run one at a time: each may rewrite its client's metadata. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    server: Server,
    port: number,
    keys: JWK[],
    provider: OidcProvider,
    private readonly store: Map<string, Entry>,
    private readonly build: (keys: JWK[]) => OidcProvider,
  ) {
    this.server = server;
    this.port = port;
    this.issuer = provider.issuer;
    this.currentKeys = keys;
    this.handler = provider.callback();
    this.watch(provider);
    this.serveOn(server);
  }

  static async start(opts: TestIdpOptions = {}): Promise<TestIdpHarness> {
    const Provider = await loadProvider();
    const keys = opts.keys?.length
      ? await Promise.all(opts.keys.map(normalizeKey))
      : [await newSigningKey('RS256')];
    const groupsClaim = opts.groupsClaim ?? 'groups';
    const ttl = opts.accessTokenTtlSeconds ?? 600;
    const store = new Map<string, Entry>();
    const users = opts.users ?? {};
    const groupsTop = groupsClaim.split('.')[0]!;

    const server = createServer({ keepAliveTimeout: 1000 });
    await listen(server, opts.port ?? 0);
    const port = (server.address() as { port: number }).port;
    const issuer = `http://127.0.0.1:${port}`;

    const build = (current: JWK[]): OidcProvider => {
      const signing = current[0]!;
      return new Provider(issuer, {
        adapter: (model: string) => new MapAdapter(store, model),
        jwks: { keys: current.map((k) => ({ ...k })) },
        cookies: { keys: [randomBytes(32).toString('base64url')] },
        clientDefaults: {
          id_token_signed_response_alg: signing.alg,
          grant_types: ['client_credentials'],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        extraClientMetadata: { properties: [GROUPS_PROP, EMAIL_PROP] },
        // Interactive sign-in (authorization code + PKCE) for `users`, through the provider's
        // own development login form; ID tokens carry the scope claims.
        findAccount: (_ctx: unknown, id: string) => {
          const u = users[id];
          if (!u) return undefined;
          return {
            accountId: id,
            claims: () => ({
              sub: id,
              ...(u.email ? { email: u.email } : {}),
              ...(u.name ? { name: u.name } : {}),
              ...nestedClaim(groupsClaim, u.groups),
            }),
          };
        },
        claims: {
          openid: ['sub'],
          email: ['email'],
          profile: ['name'],
          groups: [groupsTop],
        },
        conformIdTokenClaims: false,
        pkce: { required: () => true },
        loadExistingGrant: async (ctx: ProviderCtx) => {
          const o = ctx.oidc;
          const client = o.client;
          const accountId = o.session?.accountId;
          if (!client || !accountId) return undefined;
          const known = o.result?.consent?.grantId ?? o.session?.grantIdFor(client.clientId);
          if (known) return o.provider.Grant.find(known);
          const grant = new o.provider.Grant({ clientId: client.clientId, accountId });
          grant.addOIDCScope('openid email profile groups');
          await grant.save();
          return grant;
        },
        features: {
          devInteractions: { enabled: Object.keys(users).length > 0 },
          clientCredentials: { enabled: true },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => undefined,
            useGrantedResource: () => false,
            getResourceServerInfo: (ctx: ProviderCtx, resourceIndicator: string) => {
              const audience = audienceFor(resourceIndicator);
              const opaque = audience.startsWith(OPAQUE_PREFIX);
              return {
                // Any scope the client asks for is granted.
                scope: ctx.oidc.params.scope ?? '',
                audience: opaque ? audience.slice(OPAQUE_PREFIX.length) : audience,
                accessTokenTTL: ttl,
                accessTokenFormat: opaque ? 'opaque' : 'jwt',
                ...(opaque ? {} : { jwt: { sign: { alg: signing.alg, kid: signing.kid } } }),
              };
            },
          },
          // RFC 7662, for gateways that verify opaque tokens (registerIntrospectionClient).
          introspection: { enabled: true },
        },
        extraTokenClaims: (ctx: ProviderCtx) => {
          const client = ctx.oidc.client;
          const claims: Record<string, unknown> = {};
          const groups = client?.[GROUPS_PROP];
          const email = client?.[EMAIL_PROP];
          if (Array.isArray(groups)) Object.assign(claims, nestedClaim(groupsClaim, groups));
          if (typeof email === 'string') claims.email = email;
          return claims;
        },
        ttl: {
          AccessToken: ttl,
          ClientCredentials: ttl,
          AuthorizationCode: 60,
          IdToken: ttl,
          Interaction: 600,
          Grant: 600,
          Session: 600,
        },
        clientBasedCORS: () => true,
      });
    };

    try {
      return new TestIdpHarness(server, port, keys, build(keys), store, build);
    } catch (e) {
      await close(server, new Set());
      throw e;
    }
  }

  get keys(): JWK[] {
    return this.currentKeys.map((k) => ({ ...k }));
  }

  private watch(provider: OidcProvider): void {
    provider.on('server_error', (_ctx, err) => {
      this.lastServerError = err;
    });
  }

  /** The provider's last 500 (it answers only "server_error" on the wire), cleared. */
  private takeServerError(): Error | undefined {
    const e = this.lastServerError;
    this.lastServerError = undefined;
    return e;
  }

  private serveOn(server: Server): void {
    server.on('request', (req, res) => this.handler(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  clientCredentialsToken(opts: {
    clientId: string;
    audience: string;
    groups?: string[];
    email?: string;
    scope?: string;
  }): Promise<string> {
    const run = this.queue.then(() => this.requestToken(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async requestToken(opts: {
    clientId: string;
    audience: string;
    groups?: string[];
    email?: string;
    scope?: string;
  }): Promise<string> {
    let secret = this.secrets.get(opts.clientId);
    if (secret === undefined) {
      secret = randomBytes(24).toString('base64url');
      this.secrets.set(opts.clientId, secret);
    }
    // Register (or update) the client in the provider's own client store.
    const metadata: Record<string, unknown> = {
      client_id: opts.clientId,
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    };
    if (opts.groups) metadata[GROUPS_PROP] = [...opts.groups];
    if (opts.email !== undefined) metadata[EMAIL_PROP] = opts.email;
    await new MapAdapter(this.store, 'Client').upsert(opts.clientId, metadata);

    const discovery = (await getJson(`${this.issuer}/.well-known/openid-configuration`)) as {
      token_endpoint: string;
    };
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      resource: resourceFor(opts.audience),
    });
    if (opts.scope) body.set('scope', opts.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(opts.clientId)}:${encodeURIComponent(secret)}`,
    ).toString('base64');
    this.takeServerError();
    const res = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body,
    });
    const text = await res.text();
    if (!res.ok) {
      const serverError = this.takeServerError();
      const cause = serverError ? `: ${serverError.stack}` : '';
      throw new Error(`test IdP token request failed (${res.status}): ${text}${cause}`);
    }
    const json = JSON.parse(text) as { access_token?: unknown; token_type?: unknown };
    const opaque = opts.audience.startsWith(OPAQUE_PREFIX);
    if (
      typeof json.access_token !== 'string' ||
      (json.access_token.split('.').length === 3) === opaque
    ) {
      throw new Error(`test IdP returned no ${opaque ? 'opaque' : 'JWT'} access token: ${text}`);
    }
    return json.access_token;
  }

  /** A confidential client that may call the introspection endpoint (a gateway). */
  async registerIntrospectionClient(clientId: string, clientSecret: string): Promise<void> {
    await new MapAdapter(this.store, 'Client').upsert(clientId, {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  }

  async registerWebClient(opts: {
    clientId: string;
    clientSecret: string;
    redirectUris: string[];
  }): Promise<void> {
    await new MapAdapter(this.store, 'Client').upsert(opts.clientId, {
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [...opts.redirectUris],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  }

  async rotate(opts: { dropOld?: boolean; alg?: SigningAlg } = {}): Promise<void> {
    const alg = opts.alg ?? (this.currentKeys[0]?.alg === 'ES256' ? 'ES256' : 'RS256');
    const fresh = await newSigningKey(alg);
    const keys = opts.dropOld ? [fresh] : [fresh, ...this.currentKeys];
    const provider = this.build(keys);
    this.watch(provider);
    // Swapped in atomically: requests already running finish on the old provider.
    this.currentKeys = keys;
    this.handler = provider.callback();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await close(server, this.sockets);
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer({ keepAliveTimeout: 1000 });
    await listen(server, this.port);
    this.serveOn(server);
    this.server = server;
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    server.closeAllConnections();
  });
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Starts a test OIDC issuer on 127.0.0.1 (see TestIdp). */
export async function startTestIdp(opts?: TestIdpOptions): Promise<TestIdp> {
  return TestIdpHarness.start(opts);
}
