// Runs the graphql-http audit suite (GraphQL over HTTP conformance) against a running server:
//   node audit.mjs http://127.0.0.1:PORT/graphql
// Prints one line per audit and exits non-zero when any MUST (error) or SHOULD (warn) fails.
// MAY audits that fail are printed as notices and do not fail the run.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = await auditServer({ url });
let failed = 0;
let notices = 0;
for (const result of results) {
  const mark = { ok: 'ok    ', warn: 'SHOULD', error: 'MUST  ', notice: 'may   ' }[result.status];
  const reason = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${mark} ${result.id} ${result.name}${reason}`);
  if (result.status === 'error' || result.status === 'warn') {
    failed += 1;
  } else if (result.status === 'notice') {
    notices += 1;
  }
}
const passed = results.length - failed - notices;
console.log(`audit: ${passed} passed, ${failed} failed (MUST or SHOULD), ${notices} MAY not met, of ${results.length}`);
process.exit(failed === 0 ? 0 : 1);
