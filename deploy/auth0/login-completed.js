/**
 * smsguard: Auth0 post-login Action that reports completed SMS logins to the gateway.
 *
 * For tenants without a log stream (the Custom Webhook to POST /v1/auth0/log-stream is the
 * preferred way in): after every login through the passwordless SMS connection, POSTs
 * {phone_number, date, id} to <SMSGUARD_URL>/v1/auth0/login-completed, signed with the same HS256
 * JWT as the phone-provider Action / the sms_gateway connection. The gateway then knows that the
 * code it sent to that number was used.
 *
 * It never blocks a login: any failure (gateway down, slow, refusing) is logged and ignored, and
 * the call is abandoned after SMSGUARD_FEEDBACK_TIMEOUT_MS (default 1500 ms, at most 5000).
 *
 * Secrets: SMSGUARD_URL (the gateway's base URL), SMSGUARD_SECRET, optional
 * SMSGUARD_SECRET_BASE64_ENCODED ("true"), SMSGUARD_AUDIENCE, SMSGUARD_SUBJECT,
 * SMSGUARD_FEEDBACK_TIMEOUT_MS. Trigger: post-login.
 */
'use strict';

const crypto = require('crypto');

const DEFAULT_TIMEOUT_MS = 1500;
const MAX_TIMEOUT_MS = 5000;

function base64url(input) {
  return Buffer.from(input).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The gateway's JWT (sub, aud, iat, exp), HS256 with the shared secret. The same as in
 * custom-phone-provider.js on purpose: an Action is one self-contained file in Auth0 (no shared
 * modules), so the two copies are kept identical by tests/feedback/test_login_action.py. */
function signToken(secrets, nowSeconds) {
  const secret = secrets.SMSGUARD_SECRET_BASE64_ENCODED === 'true'
    ? Buffer.from(secrets.SMSGUARD_SECRET.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    : Buffer.from(secrets.SMSGUARD_SECRET, 'utf8');
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({
    sub: secrets.SMSGUARD_SUBJECT || 'urn:Auth0',
    aud: secrets.SMSGUARD_AUDIENCE || 'urn:MySmsGateway',
    iat: nowSeconds,
    exp: nowSeconds + 60,
  }));
  const signature = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64')
    .replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${header}.${payload}.${signature}`;
}

function endpoint(base) {
  return `${base.replace(/\/+$/, '').replace(/\/sms$/, '')}/v1/auth0/login-completed`;
}

/** The phone number of an SMS passwordless login, or undefined for any other login. */
function smsPhone(event) {
  const strategy = event.connection && event.connection.strategy;
  const phone = event.user && event.user.phone_number;
  return strategy === 'sms' && typeof phone === 'string' && phone ? phone : undefined;
}

exports.onExecutePostLogin = async (event) => {
  const secrets = event.secrets || {};
  const phone = smsPhone(event);
  if (!phone || !secrets.SMSGUARD_URL || !secrets.SMSGUARD_SECRET) return;
  const wanted = Number(secrets.SMSGUARD_FEEDBACK_TIMEOUT_MS);
  const timeoutMs = wanted > 0 ? Math.min(wanted, MAX_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS;
  const body = { phone_number: phone, date: new Date().toISOString() };
  const id = (event.transaction && event.transaction.id) || (event.session && event.session.id);
  if (id) body.id = String(id).slice(0, 120);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(endpoint(secrets.SMSGUARD_URL), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${signToken(secrets, Math.floor(Date.now() / 1000))}`,
        'User-Agent': 'smsguard-auth0-login-action/1',
      },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) console.log(`smsguard: login not recorded (HTTP ${response.status})`);
  } catch (err) {
    console.log(`smsguard: login not recorded (${err && err.name === 'AbortError' ? 'timeout' : err})`);
  } finally {
    clearTimeout(timer);
  }
};
