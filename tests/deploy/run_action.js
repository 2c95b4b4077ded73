// Runs an Auth0 custom-phone-provider Action once, outside Auth0, for the tests.
//
//   node run_action.js ACTION_FILE < event.json
//
// Loads ACTION_FILE, calls exports.onExecuteCustomPhoneProvider(event, api) with `event` read as
// JSON from stdin and an `api` whose notification.drop/retry record their calls, then prints one
// JSON line: {"calls": [{"method": "drop", "reason": "..."}], "error": null | "message"}.
'use strict';

const path = require('path');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const calls = [];
  const api = {
    notification: {
      drop: (reason) => { calls.push({ method: 'drop', reason }); },
      retry: (reason) => { calls.push({ method: 'retry', reason }); },
    },
  };
  const action = require(path.resolve(process.argv[2]));
  let error = null;
  try {
    await action.onExecuteCustomPhoneProvider(event, api);
  } catch (err) {
    error = String((err && err.stack) || err);
  }
  process.stdout.write(`${JSON.stringify({ calls, error })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(3);
});
