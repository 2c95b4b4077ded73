/**
 * smsguard: Auth0 post-login Action for the PIN step ("owns this phone" -> "is this user").
 *
 * After a login through the SMS connection, the browser is sent to smsguard's PIN page with a
 * short-lived HS256 session token (api.redirect.encodeToken). The user enrolls a PIN (first
 * login) or enters it; smsguard then sends the browser back to https://<tenant>/continue with its
 * own HS256 token carrying `state`, `sub` and `outcome`, which onContinuePostLogin validates:
 *   outcome "verified" or "enrolled" -> custom claims on the ID and access tokens:
 *        https://smsguard/pin_verified: true, https://smsguard/pin_verified_at: <unix seconds>
 *        (plus https://smsguard/pin_enrolled_at when the PIN was set just now: first use)
 *        and the session records the PIN method (later logins in it skip the step)
 *   outcome "locked", "expired", anything else, or a token that fails validation (signature,
 *        expiry, state, sub = this user, iss = "smsguard") -> api.access.deny
 *
 * Flows that cannot show a page (refresh-token exchanges, resource-owner and embedded
 * passwordless /oauth/token grants, device code, token exchange: event.transaction.protocol)
 * never redirect. If the Auth0 session already passed the PIN step (recorded method, within
 * SMSGUARD_PIN_MAX_AGE) the claims are set again; otherwise the tokens are issued WITHOUT
 * pin_verified (SMSGUARD_NON_INTERACTIVE "skip", the default: such apps use smsguard's JSON API
 * step-up) or the login is denied ("deny"). pin_verified is never set without the PIN step.
 *
 * Secrets (Actions > this Action > Secrets):
 *   SMSGUARD_PIN_URL          required  https://sms.example.com/pin (the gateway's PIN page)
 *   SMSGUARD_PIN_SECRET       required  the same value as pin.redirect_secret in smsguard (>= 32
 *                                       random characters)
 *   SMSGUARD_PIN_CONNECTIONS  optional  comma-separated connection names that need the PIN step;
 *                                       default "sms"; "*" for every connection
 *   SMSGUARD_PIN_NAMESPACE    optional  claim namespace, default "https://smsguard/"
 *                                       (pin.claim_namespace)
 *   SMSGUARD_PIN_TOKEN_TTL    optional  seconds the session token is valid, default 600
 *   SMSGUARD_PIN_MAX_AGE      optional  seconds a passed PIN step counts for later logins in the
 *                                       same Auth0 session; default 0 = for the whole session
 *   SMSGUARD_NON_INTERACTIVE  optional  "skip" (default: tokens without the PIN claims) or "deny"
 *                                       for flows that cannot be redirected
 *
 * No npm dependency.
 */
'use strict';

const DEFAULT_CONNECTIONS = 'sms';
const DEFAULT_NAMESPACE = 'https://smsguard/';
const DEFAULT_TTL = 600;
const SUCCESS = new Set(['verified', 'enrolled']);
// The `iss` of smsguard's answer tokens (gateway/pin/tokens.py ANSWER_ISSUER).
const ANSWER_ISSUER = 'smsguard';
// Protocols where the browser can be sent to the PIN page; every other one cannot be redirected
// (oauth2-refresh-token, oauth2-resource-owner, oauth2-password, oauth2-device-code, ...).
const INTERACTIVE = new Set([
  'oidc-basic-profile', 'oidc-implicit-profile', 'oidc-hybrid-profile', 'samlp', 'wsfed',
]);
const NON_INTERACTIVE_MODES = new Set(['skip', 'deny']);

function config(event) {
  const secrets = event.secrets || {};
  if (!secrets.SMSGUARD_PIN_URL || !secrets.SMSGUARD_PIN_SECRET) {
    throw new Error('smsguard pin-step: set the SMSGUARD_PIN_URL and SMSGUARD_PIN_SECRET secrets');
  }
  if (Buffer.byteLength(secrets.SMSGUARD_PIN_SECRET, 'utf8') < 32) {
    throw new Error('smsguard pin-step: SMSGUARD_PIN_SECRET must be at least 32 bytes');
  }
  let namespace = secrets.SMSGUARD_PIN_NAMESPACE || DEFAULT_NAMESPACE;
  if (!namespace.endsWith('/')) namespace += '/';
  const nonInteractive = (secrets.SMSGUARD_NON_INTERACTIVE || 'skip').trim().toLowerCase();
  if (!NON_INTERACTIVE_MODES.has(nonInteractive)) {
    throw new Error('smsguard pin-step: SMSGUARD_NON_INTERACTIVE must be "skip" or "deny"');
  }
  return {
    url: secrets.SMSGUARD_PIN_URL,
    secret: secrets.SMSGUARD_PIN_SECRET,
    connections: (secrets.SMSGUARD_PIN_CONNECTIONS || DEFAULT_CONNECTIONS)
      .split(',').map((c) => c.trim()).filter(Boolean),
    namespace,
    ttl: parseInt(secrets.SMSGUARD_PIN_TOKEN_TTL || '', 10) || DEFAULT_TTL,
    maxAge: parseInt(secrets.SMSGUARD_PIN_MAX_AGE || '', 10) || 0,
    nonInteractive,
  };
}

function needsPin(event, cfg) {
  if (cfg.connections.includes('*')) return true;
  const connection = event.connection || {};
  return cfg.connections.includes(connection.name);
}

/** The PIN method this session already passed (recorded by onContinuePostLogin), if any. */
function passedMethod(event, cfg) {
  const methods = (event.authentication && event.authentication.methods) || [];
  const now = Date.now();
  return methods.find((m) => {
    if (!m || m.name !== cfg.url) return false;
    if (!cfg.maxAge) return true;
    const at = Date.parse(m.timestamp);
    return Number.isFinite(at) && now - at <= cfg.maxAge * 1000;
  });
}

/** Whether this transaction can show the PIN page (a missing protocol counts as a browser). */
function interactive(event) {
  const protocol = event.transaction && event.transaction.protocol;
  return !protocol || INTERACTIVE.has(protocol);
}

function setClaims(api, cfg, verifiedAt, enrolledAt) {
  for (const token of [api.idToken, api.accessToken]) {
    token.setCustomClaim(`${cfg.namespace}pin_verified`, true);
    token.setCustomClaim(`${cfg.namespace}pin_verified_at`, verifiedAt);
    if (enrolledAt) token.setCustomClaim(`${cfg.namespace}pin_enrolled_at`, enrolledAt);
  }
}

/** The session token's payload; an SMS login also names its number, so the gateway can count the
 * PIN step as the use of the code it sent (completion feedback). */
function smsPayload(event) {
  const phone = event.user && event.user.phone_number;
  const sms = event.connection && event.connection.strategy === 'sms';
  return sms && typeof phone === 'string' ? { pin_step: 1, phone_number: phone } : { pin_step: 1 };
}

exports.onExecutePostLogin = async (event, api) => {
  const cfg = config(event);
  if (!needsPin(event, cfg)) return;
  const passed = passedMethod(event, cfg);
  if (passed) {
    const at = Math.floor(Date.parse(passed.timestamp) / 1000) || Math.floor(Date.now() / 1000);
    setClaims(api, cfg, at);
    return;
  }
  if (!interactive(event)) {
    // No page can be shown (refresh token, password/OTP grant, ...): never claim the PIN here.
    if (cfg.nonInteractive === 'deny') {
      api.access.deny('interaction_required: the PIN step needs an interactive login');
    }
    return;
  }
  const prompt = (event.transaction && event.transaction.prompt) || [];
  if (prompt.includes('none')) {
    // Silent authentication cannot show a page: the app must log in interactively.
    api.access.deny('interaction_required: the PIN step needs an interactive login');
    return;
  }
  const sessionToken = api.redirect.encodeToken({
    secret: cfg.secret,
    expiresInSeconds: cfg.ttl,
    payload: smsPayload(event),
  });
  const query = { session_token: sessionToken };
  const locales = event.transaction && event.transaction.ui_locales;
  if (locales && locales.length) query.ui_locales = locales.join(' ');
  api.redirect.sendUserTo(cfg.url, { query });
};

exports.onContinuePostLogin = async (event, api) => {
  const cfg = config(event);
  let payload;
  try {
    payload = api.redirect.validateToken({ secret: cfg.secret, tokenParameterName: 'session_token' });
  } catch (err) {
    api.access.deny('The PIN step could not be confirmed. Please sign in again.');
    return;
  }
  if (!payload || payload.iss !== ANSWER_ISSUER || typeof payload.outcome !== 'string') {
    api.access.deny('The PIN step could not be confirmed. Please sign in again.');
    return;
  }
  if (payload.sub !== event.user.user_id) {
    api.access.deny('The PIN step was completed for another user.');
    return;
  }
  if (SUCCESS.has(payload.outcome)) {
    const enrolledAt = payload.outcome === 'enrolled'
      ? payload.pin_enrolled_at || payload.pin_verified_at || payload.iat
      : undefined;
    setClaims(api, cfg, payload.pin_verified_at || payload.iat, enrolledAt);
    if (api.authentication && typeof api.authentication.recordMethod === 'function') {
      api.authentication.recordMethod(cfg.url);
    }
    return;
  }
  if (payload.outcome === 'locked') {
    api.access.deny('Your PIN is locked after too many wrong attempts. Contact support to reset it.');
    return;
  }
  if (payload.outcome === 'expired') {
    api.access.deny('The sign-in took too long. Please sign in again.');
    return;
  }
  api.access.deny('The PIN step was not completed.');
};
