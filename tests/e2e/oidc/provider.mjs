// A real OpenID Connect provider on loopback for the console's tests (panva's
// oidc-provider, development interactions: any login name, any password). The hub's
// scopes are released in the `mash_scopes` claim: `coordinator` holds some, `dpo` the
// records', `nobody` none. Its access tokens are JWTs as a force's identity provider
// issues them for the hub (contract section 2): the person's scopes in `scope`, the
// services they belong to in `aud`, signed with the provider's key (its JWKS).
import Provider from 'oidc-provider'

const port = Number(process.env.OIDC_PORT)
const issuer = `http://127.0.0.1:${port}`
const SCOPES = {
  coordinator: 'marac:read dashboard:read',
  dpo: 'records:read',
  nobody: ''
}
const OWNERS = { marac: 'marac', dashboard: 'console', records: 'records' }
const HUB = 'urn:mash:hub'

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic'
  }],
  claims: { openid: ['sub', 'mash_scopes'] },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, mash_scopes: SCOPES[id] ?? '' })
  }),
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => HUB,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'openid',
        audience: 'hub',
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } }
      })
    }
  },
  formats: {
    customizers: {
      // the hub's scopes of the person, for the services that own them
      jwt: async (ctx, token, jwt) => {
        const scopes = (SCOPES[token.accountId] ?? '').split(' ').filter(Boolean)
        jwt.payload.scope = scopes.join(' ')
        jwt.payload.aud = [...new Set(scopes.map(s => OWNERS[s.split(':')[0]]))]
        if (jwt.payload.aud.length === 0) jwt.payload.aud = ['none']
      }
    }
  },
  pkce: { required: () => true },
  cookies: { keys: ['test-only-cookie-signing-key'] }
})

provider.listen(port, '127.0.0.1', () => { console.log(`ready ${issuer}`) })
