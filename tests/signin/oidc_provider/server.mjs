// A certified OpenID provider (panva/oidc-provider) configured for authgate's sign-in tests.
//
// Environment: PORT (the issuer is http://127.0.0.1:PORT), REDIRECT_URIS and
// POST_LOGOUT_REDIRECT_URIS (comma-separated), CLIENT_SECRET. devInteractions is on: any
// login/password passes the sign-in form, then a consent form. The account id is the login;
// a login that looks like an email is that account's email. Logins starting with "admin" get
// the "admin" role in the "roles" claim (scope "roles"). PROFILE_FILE, when set, names a JSON
// file of {login: {claim: value}} read at every sign-in, so tests can change a person's profile.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const list = (name) => (process.env[name] || '').split(',').filter(Boolean);

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function overrides(login) {
  const file = process.env.PROFILE_FILE;
  if (!file || !existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8'))[login] || {};
}

function claimsOf(login) {
  const email = login.includes('@') ? login : `${login}@provider.test`;
  const local = email.split('@')[0];
  return {
    sub: login,
    email,
    email_verified: true,
    name: `Person ${local}`,
    picture: `https://img.provider.test/${encodeURIComponent(local)}.png`,
    roles: local.startsWith('admin') ? ['admin'] : ['viewer'],
    ...overrides(login),
  };
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'authgate-test',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: list('REDIRECT_URIS'),
    post_logout_redirect_uris: list('POST_LOGOUT_REDIRECT_URIS'),
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
    roles: ['roles'],
  },
  scopes: ['openid', 'email', 'profile', 'roles', 'offline_access'],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomUUID()] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => claimsOf(id) }),
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
