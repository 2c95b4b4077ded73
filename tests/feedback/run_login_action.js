// Runs deploy/auth0/login-completed.js once, outside Auth0, for the tests.
//
//   node run_login_action.js ACTION_FILE < event.json
//
// Calls exports.onExecutePostLogin(event, api) with an `api` whose access.deny records its calls,
// then prints one JSON line: {"calls": [...], "logs": [...], "error": null | "message"}.
'use strict';

const path = require('path');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const calls = [];
  const logs = [];
  const api = { access: { deny: (reason) => { calls.push({ method: 'deny', reason }); } } };
  console.log = (...args) => { logs.push(args.join(' ')); };
  const action = require(path.resolve(process.argv[2]));
  let error = null;
  try {
    await action.onExecutePostLogin(event, api);
  } catch (err) {
    error = String((err && err.stack) || err);
  }
  process.stdout.write(`${JSON.stringify({ calls, logs, error })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(3);
});
