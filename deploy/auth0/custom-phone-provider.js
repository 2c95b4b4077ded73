/**
 * smsguard: Auth0 Action for the `custom-phone-provider` trigger (tenants with a "Custom" phone
 * provider, created since 2025).
 *
 * Forwards every SMS Auth0 wants to send to smsguard's POST /sms with a short-lived HS256 token,
 * and maps smsguard's answer onto Auth0:
 *   2xx                      -> done (the message was sent, or silently dropped by policy)
 *   4xx (403/429 refused by  -> api.notification.drop(reason): never retried (a retry is what an
 *        policy, 400, 401,      SMS pumping bot wants; a 401 or 400 is a configuration error that
 *        413, 415)              a retry cannot fix)
 *   5xx, timeout, network    -> api.notification.retry(reason): Auth0 tries again (at most 5 times)
 *
 * Paste it in Branding > Phone Provider > Custom > Provider Configuration, and add its Secrets there:
 *   SMSGUARD_URL       required  https://sms.example.com   ("/sms" is added when missing)
 *   SMSGUARD_SECRET    required  the same value as auth0.gateway_secret in smsguard's settings
 *   SMSGUARD_AUDIENCE  optional  JWT aud, default "urn:MySmsGateway" (auth0.audience)
 *   SMSGUARD_SUBJECT   optional  JWT sub, default "urn:Auth0"        (auth0.subject)
 *   SMSGUARD_SECRET_BASE64_ENCODED  optional "true" when the secret is base64url-encoded
 *                                  (auth0.secret_base64_encoded: true)
 *   SMSGUARD_TIMEOUT_MS optional  default 10000: how long to wait for smsguard
 *   SMSGUARD_VOICE     optional  "drop" (default): voice messages are dropped, smsguard sends SMS
 *                                only; "sms": send the text version of a voice message as an SMS
 *
 * No npm dependency: node's crypto signs the token and the global fetch sends it (Node 18+).
 */
'use strict';

const crypto = require('crypto');

const DEFAULT_TIMEOUT_MS = 10000;
const REASON_MAX = 200;

function base64url(input) {
  return Buffer.from(input).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** An HS256 JWT, as Auth0's own sms_gateway connection sends it (sub, aud, iat, exp). */
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

/** The request fields smsguard reads; nothing else from event.request leaves the tenant. */
function requestInfo(request) {
  if (!request) return undefined;
  const req = {};
  for (const key of ['ip', 'method', 'hostname', 'language', 'user_agent', 'geoip']) {
    if (request[key] !== undefined && request[key] !== null) req[key] = request[key];
  }
  return req;
}

/** The JSON body smsguard's POST /sms accepts (the custom-phone-provider shape). */
function buildPayload(event) {
  const n = event.notification || {};
  const payload = {
    recipient: n.recipient,
    body: n.as_text,
    sender: n.from,
    req: requestInfo(event.request),
    message_type: n.message_type,
    locale: n.locale,
    delivery_method: n.delivery_method,
    client_id: event.client && event.client.client_id,
    correlation_id: event.transaction && event.transaction.correlation_id,
  };
  for (const key of Object.keys(payload)) {
    if (payload[key] === undefined || payload[key] === null) delete payload[key];
  }
  return payload;
}

function gatewayUrl(base) {
  const trimmed = base.replace(/\/+$/, '');
  return /\/sms$/.test(trimmed) ? trimmed : `${trimmed}/sms`;
}

function short(text) {
  const s = String(text).replace(/\s+/g, ' ').trim();
  return s.length > REASON_MAX ? `${s.slice(0, REASON_MAX - 3)}...` : s;
}

/** smsguard's error text from its JSON answer ({error, field, rule ...}), or the raw text. */
async function answerDetail(response) {
  let text = '';
  try {
    text = await response.text();
  } catch (err) {
    return '';
  }
  try {
    const parsed = JSON.parse(text);
    const parts = [];
    for (const key of ['error', 'message', 'reason', 'field', 'rule']) {
      if (typeof parsed[key] === 'string' && parsed[key]) parts.push(`${key}=${parsed[key]}`);
    }
    return parts.length ? parts.join(' ') : short(text);
  } catch (err) {
    return short(text);
  }
}

exports.onExecuteCustomPhoneProvider = async (event, api) => {
  const secrets = event.secrets || {};
  if (!secrets.SMSGUARD_URL || !secrets.SMSGUARD_SECRET) {
    api.notification.drop('smsguard: the SMSGUARD_URL and SMSGUARD_SECRET secrets must be set');
    return;
  }
  const n = event.notification || {};
  let payload = buildPayload(event);
  if (n.delivery_method === 'voice') {
    if ((secrets.SMSGUARD_VOICE || 'drop') !== 'sms') {
      api.notification.drop('smsguard: voice delivery is not supported (SMS only)');
      return;
    }
    payload = Object.assign(payload, { delivery_method: 'text' });
  }
  if (!payload.recipient || !payload.body) {
    api.notification.drop('smsguard: the notification has no recipient or text');
    return;
  }

  const timeoutMs = Number(secrets.SMSGUARD_TIMEOUT_MS) > 0
    ? Number(secrets.SMSGUARD_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json',
    Authorization: `Bearer ${signToken(secrets, Math.floor(Date.now() / 1000))}`,
    'User-Agent': 'smsguard-auth0-action/1',
  };
  if (payload.correlation_id) headers['X-Request-Id'] = String(payload.correlation_id).slice(0, 64);

  try {
    let response;
    try {
      response = await fetch(gatewayUrl(secrets.SMSGUARD_URL), {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        redirect: 'manual',
        signal: controller.signal,
      });
    } catch (err) {
      const why = controller.signal.aborted
        ? `no answer within ${timeoutMs} ms`
        : `cannot reach the gateway: ${(err && err.cause && err.cause.code) || (err && err.message) || err}`;
      api.notification.retry(short(`smsguard: ${why}`));
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      // Drain the body so the connection is released; its content does not change the outcome.
      await response.text().catch(() => '');
      return;
    }
    const detail = await answerDetail(response);
    const reason = short(`smsguard: HTTP ${response.status}${detail ? ` ${detail}` : ''}`);
    if (response.status >= 500) {
      api.notification.retry(reason);
    } else {
      // 4xx: refused by policy (403/429), bad request, wrong token; 3xx: a wrong SMSGUARD_URL.
      api.notification.drop(reason);
    }
  } finally {
    clearTimeout(timer);
  }
};

// For tests and for reuse in an MFA send-phone-message Action; Auth0 ignores extra exports.
exports._internal = { buildPayload, signToken, gatewayUrl };
