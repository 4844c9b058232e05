// A real OpenID provider for the single sign-on tests and for trying SSO locally: the certified
// `oidc-provider` package (https://github.com/panva/node-oidc-provider, its docs/README.md), with
// a sign-in page and a consent page of our own, one confidential client, and users kept in a JSON
// file that is read again at every look-up, so that editing it (a group removed, a user deleted)
// takes effect at once, as at a company's identity provider.
//
//   node tests/oidc/provider.mjs            # http://127.0.0.1:9000, users from tests/oidc/users.json
//
// Environment: PORT (9000), ISSUER (http://127.0.0.1:$PORT), USERS_FILE, CLIENT_ID (governance),
// CLIENT_SECRET (governance-local-secret), REDIRECT_URIS (comma-separated callback URLs; the
// default is `make run`'s, http://127.0.0.1:8000/oidc/callback/ and the same on localhost),
// ACCESS_TOKEN_SECONDS (3600). It prints "listening on <issuer>" once it serves.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const PORT = Number(env.PORT || 9000);
const ISSUER = env.ISSUER || `http://127.0.0.1:${PORT}`;
const USERS_FILE = env.USERS_FILE || join(here, 'users.json');
const REDIRECT_URIS = (env.REDIRECT_URIS || 'http://127.0.0.1:8000/oidc/callback/,http://localhost:8000/oidc/callback/')
  .split(',').map((uri) => uri.trim()).filter(Boolean);

// users.json: { "<login>": { "sub", "password", "name", "email", "groups": [...] } }. A user taken out of
// the file no longer exists here: their tokens are refused at the userinfo endpoint.
function readUsers() {
  return JSON.parse(readFileSync(USERS_FILE, 'utf8'));
}

function userBySub(sub) {
  return Object.entries(readUsers()).find(([login, user]) => (user.sub || login) === sub);
}

async function findAccount(ctx, sub) {
  const found = userBySub(sub);
  if (!found) return undefined;
  const [login, user] = found;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        preferred_username: login,
        name: user.name,
        email: user.email,
        email_verified: true,
        groups: user.groups || [],
      };
    },
  };
}

const signingKey = await jose.exportJWK((await jose.generateKeyPair('RS256', { extractable: true })).privateKey);

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: env.CLIENT_ID || 'governance',
    client_secret: env.CLIENT_SECRET || 'governance-local-secret',
    redirect_uris: REDIRECT_URIS,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  findAccount,
  jwks: { keys: [{ ...signingKey, alg: 'RS256', use: 'sig', kid: 'test-signing-key' }] },
  cookies: { keys: ['a cookie key for a provider that runs only on this machine'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AccessToken: Number(env.ACCESS_TOKEN_SECONDS || 3600) },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p>${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
});

function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><main>${body}</main></body></html>`;
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

function signInPage(uid, clientId, message = '') {
  return page('Sign in - local OpenID provider', `
    <h1>Local OpenID provider</h1>
    <p>Sign in to continue to <strong>${escape(clientId)}</strong>.</p>
    ${message ? `<p role="alert">${escape(message)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login">
      <label for="login">Login</label> <input id="login" name="login" autocomplete="username" required>
      <label for="password">Password</label> <input id="password" name="password" type="password" required>
      <button type="submit">Continue</button>
    </form>`);
}

function consentPage(uid, clientId, details) {
  const scopes = details.missingOIDCScope || [];
  return page('Consent - local OpenID provider', `
    <h1>Allow access?</h1>
    <p><strong>${escape(clientId)}</strong> asks for: ${scopes.map(escape).join(', ') || 'nothing new'}.</p>
    <form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Allow</button></form>
    <form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Deny</button></form>`);
}

// The sign-in and consent steps, as in the package's own example (example/routes/koa.js).
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(res, 200, signInPage(uid, params.client_id));
    return send(res, 200, consentPage(uid, params.client_id, prompt.details));
  }
  if (req.method !== 'POST') return send(res, 405, page('Not allowed', '<p>Not allowed.</p>'));
  if (action === 'login') {
    const form = await formBody(req);
    const user = readUsers()[form.get('login')];
    if (!user || user.password !== form.get('password')) {
      return send(res, 200, signInPage(uid, params.client_id, 'Unknown login or wrong password.'));
    }
    const result = { login: { accountId: user.sub || form.get('login') } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  const denied = { error: 'access_denied', error_description: 'The user denied access.' };
  return provider.interactionFinished(req, res, denied, { mergeWithLastSubmission: false });
}

const handle = provider.callback();
const server = createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?\/?$/.exec(req.url.split('?')[0]);
  if (!match) return handle(req, res);
  try {
    return await interaction(req, res, match[1], match[2]);
  } catch (error) {
    return send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p>${escape(error.message)}</p>`));
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`listening on ${ISSUER}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
