#!/usr/bin/env node
// BullMQ side of the benchmark: runs one scenario described by the JSON spec
// in argv[2] and speaks the child protocol of bench/spec.go on stdin/stdout:
//   -> {"phase":"ready"}   <- go   -> {"phase":"done",...}
//   <- verify   -> {"phase":"verified",...}   <- exit
// BullMQ runs with its defaults; only concurrency, removeOnComplete and
// autorun (to start the worker when told) are set.
'use strict';

const path = require('path');
const readline = require('readline');
const { performance } = require('perf_hooks');

const nm = path.join(__dirname, '..', '..', 'interop', 'node_modules');
const { Queue, Worker } = require(path.join(nm, 'bullmq'));

const spec = JSON.parse(process.argv[2] || '{}');
const JOB = 'bench';

function send(m) {
  process.stdout.write(JSON.stringify(m) + '\n');
}

// Lines from the parent, one at a time.
const rl = readline.createInterface({ input: process.stdin });
const pending = [];
const waiters = [];
rl.on('line', (l) => {
  const w = waiters.shift();
  if (w) w.resolve(l.trim());
  else pending.push(l.trim());
});
rl.on('close', () => {
  for (const w of waiters.splice(0)) w.reject(new Error('stdin closed'));
});
function nextLine() {
  if (pending.length) return Promise.resolve(pending.shift());
  return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
}
async function expect(want) {
  const got = await nextLine();
  if (got !== want) throw new Error(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Wall-clock milliseconds with sub-millisecond resolution.
const nowMs = () => performance.timeOrigin + performance.now();

function percentiles(sample) {
  const s = Float64Array.from(sample).sort();
  const rank = (p) => s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1];
  if (s.length === 0) return { n: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  return { n: s.length, p50: rank(50), p90: rank(90), p99: rank(99), max: s[s.length - 1] };
}

async function addBulk(queue, n, chunk) {
  for (let i = 0; i < n; i += chunk) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + chunk); j++) batch.push({ name: JOB, data: { i: j } });
    await queue.addBulk(batch);
  }
}

async function main() {
  const connection = { host: spec.addr.split(':')[0], port: Number(spec.addr.split(':')[1]), maxRetriesPerRequest: null };
  const queue = new Queue(spec.queue, { connection });
  await queue.waitUntilReady();
  const n = spec.n;
  let worker = null;
  let finished = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  if (n === 0) resolveDone();
  const pickup = [];
  const complete = [];

  const closeAll = async () => {
    if (worker) await worker.close();
    await queue.close();
  };

  if (spec.kind === 'process') await addBulk(queue, n, 1000);
  if (spec.kind === 'process' || spec.kind === 'latency' || spec.kind === 'idle') {
    const latency = spec.kind === 'latency';
    const opts = { connection, concurrency: spec.concurrency || 1, autorun: false };
    if (spec.remove || spec.kind !== 'process') opts.removeOnComplete = { count: 0 };
    worker = new Worker(
      spec.queue,
      async (job) => {
        if (latency) pickup.push(nowMs() - job.data.t);
      },
      opts,
    );
    worker.on('completed', (job) => {
      if (latency) complete.push(nowMs() - job.data.t);
      if (++finished === n) resolveDone();
    });
    worker.on('error', (err) => process.stderr.write(`worker error: ${err}\n`));
    await worker.waitUntilReady();
  }

  const verify = async () => {
    await expect('verify');
    const c = await queue.getJobCounts('waiting', 'active', 'completed', 'delayed', 'prioritized', 'paused');
    const got = { waiting: c.waiting + c.delayed + c.prioritized + c.paused, active: c.active, completed: c.completed };
    const want = { waiting: 0, active: 0, completed: 0 };
    if (spec.kind === 'add-serial' || spec.kind === 'add-bulk') want.waiting = n;
    if (spec.kind === 'process' && !spec.remove) want.completed = n;
    const ok = got.waiting === want.waiting && got.active === want.active && got.completed === want.completed;
    send({
      phase: 'verified',
      ok,
      detail: `waiting=${got.waiting} active=${got.active} completed=${got.completed} (want ${want.waiting}/${want.active}/${want.completed})`,
    });
    await expect('exit');
  };

  if (spec.kind === 'idle') {
    worker.run().catch((err) => process.stderr.write(`worker run: ${err}\n`));
    await sleep(spec.settle_ms || 0);
    send({ phase: 'ready' });
    await verify();
    await closeAll();
    return;
  }

  send({ phase: 'ready' });
  await expect('go');
  const res = { phase: 'done' };
  const t0 = performance.now();
  switch (spec.kind) {
    case 'add-serial':
      for (let i = 0; i < n; i++) await queue.add(JOB, { i });
      res.added = n;
      break;
    case 'add-bulk':
      await addBulk(queue, n, spec.chunk);
      res.added = n;
      break;
    case 'process':
      worker.run().catch((err) => process.stderr.write(`worker run: ${err}\n`));
      await done;
      break;
    case 'latency': {
      worker.run().catch((err) => process.stderr.write(`worker run: ${err}\n`));
      await sleep(300);
      const interval = 1000 / spec.rate;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = start + i * interval - performance.now();
        if (wait > 0) await sleep(wait);
        await queue.add(JOB, { t: nowMs() });
      }
      await done;
      res.added = n;
      break;
    }
    default:
      throw new Error(`unknown kind ${spec.kind}`);
  }
  res.elapsed_s = (performance.now() - t0) / 1000;
  res.processed = finished;
  if (spec.kind === 'latency') {
    res.pickup_ms = percentiles(pickup);
    res.complete_ms = percentiles(complete);
  }
  send(res);
  await verify();
  await closeAll();
}

const timer = setTimeout(() => {
  send({ phase: 'error', error: `timeout after ${spec.timeout_ms} ms (${spec.kind})` });
  process.exit(1);
}, spec.timeout_ms || 60000);
timer.unref();

main().then(
  () => process.exit(0),
  (err) => {
    send({ phase: 'error', error: String((err && err.stack) || err) });
    process.exit(1);
  },
);
