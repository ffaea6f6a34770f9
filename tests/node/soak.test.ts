/**
 * The short soak of `npm test`: mixed traffic (pipelined GETs, logins, session reads with valid,
 * forged and stale cookies, logouts, bad requests, aborted connections, slowloris heads, slow bodies,
 * idle and never-reading clients, bursts over the connection cap) through the real server code on the
 * XS engine, with device limits. After a warm-up, the live-slot count after gc() must return to its
 * baseline: no growth per 10k requests. `npm run soak` is the 10-minute version (tests/soak/run-soak.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, runSoak, soakFailures } from '../soak/run-soak';

const SECONDS = Number(process.env.SOAK_CI_SECONDS ?? 15);

test(`soak on the XS engine (${SECONDS} s): the heap returns to its baseline, nothing fails`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const report = await runSoak({ seconds: SECONDS, warmup: 3_000, checkpoint: 5_000 });
  console.log(`\n${formatReport(report)}\n`);
  assert.deepEqual(soakFailures(report), []);
  assert.ok(report.requests >= 10_000, `only ${report.requests} requests in ${report.seconds} s`);
  // Every kind of traffic happened: served, refused at the cap, timed out, rejected, aborted.
  for (const outcome of ['200', '303', '401', '400', '408', '503', 'aborted']) {
    assert.ok((report.statuses[outcome] ?? 0) > 0, `no ${outcome} in ${JSON.stringify(report.statuses)}`);
  }
});
