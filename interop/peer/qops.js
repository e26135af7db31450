#!/usr/bin/env node
// Node BullMQ 6.7.0 peer for the manual-processing and manual-rate-limit
// interop tests (interop/qops_manual_test.go). Same line protocol as
// peer.js: {"type":"ready"}, scenario lines, {"type":"done"}; errors print
// {"type":"error","message"} and exit 1.
//
//   node qops.js manual '{host, port, prefix, queue, lockDuration, steps}'
//     A Worker without a processor; for each step {token, action:
//     "complete"|"fail"|"none", value, reason}: job = getNextJob(token,
//     {block: false}) printed as {"type":"fetched","id"}, then
//     job.moveToCompleted(value, token, false) or
//     job.moveToFailed(new Error(reason), token, false); {"type":"step"}.
//   node qops.js ratelimit '{..., limiter, rateLimitMs}'
//     A Worker (optional limiter {max, duration}) whose processor, on a
//     job's first run when data.rateLimitMs is set, calls
//     worker.rateLimit(ms) and throws Worker.RateLimitError(); prints
//     {"type":"started","id","ts"} per run, {"type":"limited","id"} and
//     {"type":"completed","id"}; exits on SIGTERM.
'use strict';

const { Worker } = require('bullmq');

const scenario = process.argv[2];
const args = JSON.parse(process.argv[3] || '{}');
const connection = { host: args.host || '127.0.0.1', port: args.port || 6379, maxRetriesPerRequest: null };
const base = { connection, prefix: args.prefix || 'bull', skipVersionCheck: true };

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
let worker = null;
let finished = false;
async function finish(code) {
  if (finished) return;
  finished = true;
  if (worker) await worker.close().catch(e => process.stderr.write('close: ' + e.message + '\n'));
  out({ type: 'done' });
  process.stdout.write('', () => process.exit(code || 0));
}
function fail(err) {
  out({ type: 'error', message: String(err && err.message ? err.message : err) });
  finish(1);
}
process.on('SIGTERM', () => finish(0));
process.on('unhandledRejection', fail);

async function manual() {
  worker = new Worker(args.queue, null, Object.assign({}, base, { autorun: false, lockDuration: args.lockDuration || 30000 }));
  worker.on('error', e => process.stderr.write('worker error: ' + e.message + '\n'));
  await worker.waitUntilReady();
  out({ type: 'ready' });
  for (const s of args.steps || []) {
    const job = await worker.getNextJob(s.token, { block: false });
    out({ type: 'fetched', id: job ? job.id : null });
    if (!job) continue;
    if (s.action === 'complete') await job.moveToCompleted(s.value, s.token, false);
    if (s.action === 'fail') await job.moveToFailed(new Error(s.reason), s.token, false);
    out({ type: 'step', id: job.id });
  }
  await finish(0);
}

async function ratelimit() {
  const seen = new Set();
  const opts = Object.assign({}, base, { autorun: false, drainDelay: 1 });
  if (args.limiter) opts.limiter = args.limiter;
  worker = new Worker(args.queue, async job => {
    out({ type: 'started', id: job.id, ts: Date.now() });
    if (job.data && job.data.rateLimitMs && !seen.has(job.id)) {
      seen.add(job.id);
      await worker.rateLimit(job.data.rateLimitMs);
      out({ type: 'limited', id: job.id, ts: Date.now() });
      throw Worker.RateLimitError();
    }
    return null;
  }, opts);
  worker.on('error', e => process.stderr.write('worker error: ' + e.message + '\n'));
  worker.on('completed', job => out({ type: 'completed', id: job.id, ts: Date.now() }));
  await worker.waitUntilReady();
  worker.run().catch(fail);
  out({ type: 'ready' });
}

const scenarios = { manual, ratelimit };
if (!scenarios[scenario]) {
  out({ type: 'error', message: 'unknown scenario ' + scenario });
  process.exit(2);
}
scenarios[scenario]().catch(fail);
