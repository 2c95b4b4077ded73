// Runs an Auth0 Action once, outside Auth0, for the tests.
//
//   node run_action.js ACTION_FILE [HANDLER] < event.json
//
// Loads ACTION_FILE, calls exports[HANDLER](event, api) (default onExecuteCustomPhoneProvider) with
// `event` read as JSON from stdin and an `api` whose notification.drop/retry and access.deny record
// their calls, then prints one JSON line:
// {"calls": [{"method": "drop", "reason": "..."}], "logs": ["console.log lines"], "error": null}.
// ACTION_NOW_MS, when set, is what Date.now() answers: the time of a gateway on a fake clock.
'use strict';

const path = require('path');

async function main() {
  if (process.env.ACTION_NOW_MS) {
    const now = Number(process.env.ACTION_NOW_MS);
    Date.now = () => now;
  }
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const handler = process.argv[3] || 'onExecuteCustomPhoneProvider';
  const calls = [];
  const logs = [];
  const record = (method) => (reason) => { calls.push({ method, reason }); };
  const api = {
    notification: { drop: record('drop'), retry: record('retry') },
    access: { deny: record('deny') },
  };
  console.log = (...args) => { logs.push(args.join(' ')); };
  const action = require(path.resolve(process.argv[2]));
  let error = null;
  try {
    await action[handler](event, api);
  } catch (err) {
    error = String((err && err.stack) || err);
  }
  process.stdout.write(`${JSON.stringify({ calls, logs, error })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(3);
});
