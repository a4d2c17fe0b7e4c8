// A local OpenID Connect provider for tests/e2e/test_oidc.py: npm's `oidc-provider`
// with one confidential client and the accounts given, and the package's own login and
// consent pages (devInteractions: any password is taken; an unknown login fails).
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"issuer", "port", "client": {"client_id", "client_secret", "redirect_uris"},
//          "accounts": {"<login>": {"email", "email_verified", "name", "groups"}}}
// Prints "listening <issuer>" once it accepts connections. PKCE is required of the client
// (S256 is the only method oidc-provider allows), so a client that does not send it fails.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const provider = new Provider(config.issuer, {
  clients: [
    {
      ...config.client,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...account };
      },
    };
  },
  cookies: { keys: ['warroom-e2e-only-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`listening ${config.issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
