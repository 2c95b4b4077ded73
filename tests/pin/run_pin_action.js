// Runs deploy/auth0/pin-step.js once, outside Auth0, against a fake post-login `api`.
//
//   node run_pin_action.js ACTION_FILE < input.json
//
// input: {"handler": "execute" | "continue", "event": {...}, "tenant": "tenant.example",
//         "state": "...", "query": {"state": ..., "session_token": ...}, "now": unix seconds}
// Prints one JSON line: {"calls": [{"method": ..., "args": [...]}], "error": null | "message"}.
//
// encodeToken/validateToken behave as Auth0 documents them: HS256 with the given secret;
// encodeToken adds iat, iss (the tenant domain), sub (the user id), exp, ip; validateToken checks
// the signature, exp and that the token's `state` claim equals the `state` query parameter.
// sendUserTo throws, as Auth0 fails the transaction, when event.transaction.protocol is not a
// browser flow (oauth2-refresh-token, oauth2-password, ...).
'use strict';

const crypto = require('crypto');
const path = require('path');

// Protocols whose transactions run in a browser and can be redirected (Auth0's login page flows).
const REDIRECTABLE = new Set([
  'oidc-basic-profile', 'oidc-implicit-profile', 'oidc-hybrid-profile', 'samlp', 'wsfed',
]);

const b64url = (buf) => Buffer.from(buf).toString('base64')
  .replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const unb64url = (text) => Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

function sign(payload, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const mac = b64url(crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${mac}`;
}

function verify(token, secret) {
  const parts = String(token || '').split('.');
  if (parts.length !== 3) throw new Error('malformed token');
  const header = JSON.parse(unb64url(parts[0]).toString('utf8'));
  if (header.alg !== 'HS256') throw new Error('unexpected alg');
  const expected = crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = unb64url(parts[2]);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new Error('bad signature');
  }
  return JSON.parse(unb64url(parts[1]).toString('utf8'));
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const { event } = input;
  const now = input.now || Math.floor(Date.now() / 1000);
  const calls = [];
  const record = (method) => (...args) => { calls.push({ method, args }); };
  const api = {
    access: { deny: record('access.deny') },
    idToken: { setCustomClaim: record('idToken.setCustomClaim') },
    accessToken: { setCustomClaim: record('accessToken.setCustomClaim') },
    authentication: { recordMethod: record('authentication.recordMethod') },
    redirect: {
      encodeToken: ({ secret, expiresInSeconds, payload }) => sign({
        iat: now, iss: input.tenant, sub: event.user.user_id,
        exp: now + (expiresInSeconds || 900), ip: event.request && event.request.ip,
        ...(payload || {}),
      }, secret),
      sendUserTo: (url, options) => {
        const protocol = event.transaction && event.transaction.protocol;
        if (protocol && !REDIRECTABLE.has(protocol)) {
          // Auth0 fails the transaction: these flows have no browser to send anywhere.
          throw new Error(`redirects are not possible with protocol ${protocol}`);
        }
        const target = new URL(url);
        for (const [k, v] of Object.entries((options && options.query) || {})) {
          target.searchParams.set(k, v);
        }
        target.searchParams.set('state', input.state || 'harness-state');
        calls.push({ method: 'redirect.sendUserTo', args: [target.toString()] });
      },
      validateToken: ({ secret, tokenParameterName }) => {
        const query = input.query || {};
        const payload = verify(query[tokenParameterName || 'session_token'], secret);
        if (typeof payload.exp !== 'number' || payload.exp < now) throw new Error('expired');
        if (payload.state !== query.state) throw new Error('state mismatch');
        return payload;
      },
    },
  };
  const action = require(path.resolve(process.argv[2]));
  let error = null;
  try {
    if (input.handler === 'continue') await action.onContinuePostLogin(event, api);
    else await action.onExecutePostLogin(event, api);
  } catch (err) {
    error = String((err && err.message) || err);
  }
  process.stdout.write(`${JSON.stringify({ calls, error })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(3);
});
