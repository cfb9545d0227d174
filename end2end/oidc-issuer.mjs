// A test OpenID Connect issuer for the browser tests, speaking what a Cognito
// user pool's hosted UI does: /oauth2/authorize shows an account chooser (an
// email field and "Continue"), /oauth2/token trades a code (once, with its
// PKCE verifier and the client's secret) for an RS256 ID token,
// /pool/.well-known/jwks.json publishes the key, /logout ends "the pool's
// session" and returns to logout_uri. Node's own crypto signs; the keys are
// the fixtures the Rust tests use. Usage: node oidc-issuer.mjs PORT
import { createHash, createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const port = Number(process.argv[2] ?? 3199);
const base = `http://127.0.0.1:${port}`;
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'server', 'tests', 'fixtures', 'oidc');
const key = readFileSync(join(fixtures, 'signing.pem'));
const jwks = readFileSync(join(fixtures, 'jwks.json'));
export const clientId = 'larder-e2e-client';
export const clientSecret = 'larder-e2e-secret';
const codes = new Map();
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function idToken(claims) {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'test-key-1' }));
  const body = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${body}`);
  return `${header}.${body}.${b64url(signer.sign(key))}`;
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(body);
}

async function readForm(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const q = url.searchParams;
  if (url.pathname === '/oauth2/authorize' && req.method === 'GET') {
    if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256') {
      return send(res, 400, 'text/plain', 'bad authorize request');
    }
    const hidden = ['redirect_uri', 'state', 'nonce', 'code_challenge']
      .map((k) => `<input type="hidden" name="${k}" value="${escape(q.get(k) ?? '')}">`).join('');
    return send(res, 200, 'text/html; charset=utf-8', `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width"><title>Choose an account</title></head>
<body style="font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem"><h1>Choose an account</h1><p>to continue to Larder (${escape(q.get('identity_provider') ?? 'pool')})</p>
<form method="post" action="/oauth2/approve">${hidden}<label for="email">Email</label><br><input id="email" name="email" type="email" value="gia@college.example" style="width:100%"><br><br><button type="submit">Continue</button></form></body></html>`);
  }
  if (url.pathname === '/oauth2/approve' && req.method === 'POST') {
    const f = await readForm(req);
    const code = b64url(randomBytes(16));
    codes.set(code, { nonce: f.get('nonce'), challenge: f.get('code_challenge'), email: f.get('email'), used: false });
    const back = new URL(f.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', f.get('state'));
    return send(res, 302, 'text/plain', '', { location: back.toString() });
  }
  if (url.pathname === '/oauth2/token' && req.method === 'POST') {
    const auth = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    if (req.headers.authorization !== auth) return send(res, 401, 'application/json', '{"error":"invalid_client"}');
    const f = await readForm(req);
    const grant = codes.get(f.get('code'));
    const challenge = b64url(createHash('sha256').update(f.get('code_verifier') ?? '').digest());
    if (!grant || grant.used || grant.challenge !== challenge) return send(res, 400, 'application/json', '{"error":"invalid_grant"}');
    grant.used = true;
    const now = Math.floor(Date.now() / 1000);
    const token = idToken({
      sub: `google-${grant.email}`, email: grant.email, email_verified: 'true', name: 'Gia Google',
      iss: `${base}/pool`, aud: clientId, token_use: 'id', nonce: grant.nonce, iat: now, exp: now + 3600,
    });
    return send(res, 200, 'application/json', JSON.stringify({ access_token: 'unused', token_type: 'Bearer', expires_in: 3600, id_token: token }));
  }
  if (url.pathname === '/pool/.well-known/jwks.json') return send(res, 200, 'application/json', jwks);
  if (url.pathname === '/logout') {
    const back = q.get('logout_uri');
    if (q.get('client_id') !== clientId || !back) return send(res, 400, 'text/plain', 'bad logout request');
    return send(res, 302, 'text/plain', '', { location: back });
  }
  if (url.pathname === '/health') return send(res, 200, 'text/plain', 'ok');
  send(res, 404, 'text/plain', 'not found');
}).listen(port, '127.0.0.1');
