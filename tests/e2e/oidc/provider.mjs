// A real OpenID Connect provider on loopback for the console's tests (panva's
// oidc-provider, development interactions: any login name, any password). The hub's
// scopes are released in the `mash_scopes` claim: `coordinator` holds some, `nobody` none.
import Provider from 'oidc-provider'

const port = Number(process.env.OIDC_PORT)
const issuer = `http://127.0.0.1:${port}`
const SCOPES = {
  coordinator: 'marac:read dashboard:read',
  nobody: ''
}

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
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['test-only-cookie-signing-key'] }
})

provider.listen(port, '127.0.0.1', () => { console.log(`ready ${issuer}`) })
