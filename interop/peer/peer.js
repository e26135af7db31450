#!/usr/bin/env node
// Node BullMQ 6.7.0 test peer for the Go interop suite (interop/*_test.go).
//
//   node peer.js <scenario> '<json args>'     (or @file.json)
//
// Every scenario prints one JSON object per line on stdout: {"type":"ready"}
// once its BullMQ objects are connected, then scenario-specific lines, then
// {"type":"done", ...}, and exits 0. On any error it prints
// {"type":"error","message":...} and exits 1. SIGTERM closes everything
// gracefully and then prints "done". Diagnostics go to stderr.
//
// Common args: host, port (the test's redis-server), prefix (default "bull"),
// queue (queue name).
'use strict';

const { Queue, Worker, QueueEvents, FlowProducer, UnrecoverableError } = require('bullmq');

const scenario = process.argv[2];
let args = {};
try {
  const raw = process.argv[3] || '{}';
  // '@/path/file.json' reads the arguments from a file (large job lists).
  args = JSON.parse(raw.startsWith('@') ? require('fs').readFileSync(raw.slice(1), 'utf8') : raw);
} catch (e) {
  out({ type: 'error', message: 'bad json args: ' + e.message });
  process.exit(2);
}

// args.cluster = [{host, port}, …] connects to a Redis Cluster instead: one
// shared ioredis Cluster (BullMQ duplicates it for blocking connections),
// closed last.
let connection = { host: args.host || '127.0.0.1', port: args.port || 6379, maxRetriesPerRequest: null };
let clusterConn = null;
if (args.cluster) {
  const { Cluster } = require('ioredis');
  clusterConn = new Cluster(args.cluster, { redisOptions: { maxRetriesPerRequest: null } });
  connection = clusterConn;
}
const base = { connection, prefix: args.prefix || 'bull', skipVersionCheck: true };

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const closers = []; // closed in reverse order of creation: workers last created first
let closing = null;

async function closeAll() {
  if (!closing) {
    closing = (async () => {
      for (const c of closers.slice().reverse()) {
        try {
          await c();
        } catch (e) {
          process.stderr.write('close: ' + e.message + '\n');
        }
      }
      if (clusterConn) await clusterConn.quit().catch(() => clusterConn.disconnect());
    })();
  }
  return closing;
}

let finished = false;
async function finish(summary, code = 0) {
  if (finished) return;
  finished = true;
  await closeAll();
  out(Object.assign({ type: 'done' }, summary || {}));
  exitFlushed(code);
}

// exitFlushed exits once stdout is flushed: a piped stdout is asynchronous
// in Node, and process.exit would drop the lines still queued.
function exitFlushed(code) {
  process.stdout.write('', () => process.exit(code));
}

function fail(err) {
  out({ type: 'error', message: String(err && err.message ? err.message : err) });
  closeAll().finally(() => exitFlushed(1));
}

process.on('SIGTERM', () => finish({ signal: 'SIGTERM' }));
process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);

function sleep(ms) {
  return new Promise(r => setTimeout(r, ms));
}

function newQueue(extra) {
  const q = new Queue(args.queue, Object.assign({}, base, extra || {}));
  q.on('error', fail);
  closers.push(() => q.close());
  return q;
}

function jobView(job) {
  if (!job) return null;
  return {
    id: job.id,
    name: job.name,
    data: job.data,
    opts: job.opts,
    timestamp: job.timestamp,
    delay: job.delay,
    priority: job.priority,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted,
    stalledCounter: job.stalledCounter,
    processedOn: job.processedOn,
    finishedOn: job.finishedOn,
    returnvalue: job.returnvalue,
    failedReason: job.failedReason,
    stacktrace: job.stacktrace,
    deferredFailure: job.deferredFailure,
    processedBy: job.processedBy,
    deduplicationId: job.deduplicationId,
    repeatJobKey: job.repeatJobKey,
  };
}

// --- scenarios -------------------------------------------------------------

// add: args.jobs = [{name, data, opts}]. Prints {"type":"added","index","id"}
// or {"type":"rejected","index","message"} per job (rejections do not fail
// the scenario), in order. args.bulk = true uses addBulk (no rejections).
async function add() {
  const q = newQueue({ skipMetasUpdate: !!args.skipMetasUpdate });
  await q.waitUntilReady();
  out({ type: 'ready' });
  const jobs = args.jobs || [];
  if (args.bulk) {
    const res = await q.addBulk(jobs);
    res.forEach((j, index) => out({ type: 'added', index, id: j.id, timestamp: j.timestamp }));
  } else {
    for (let index = 0; index < jobs.length; index++) {
      const j = jobs[index];
      try {
        const job = await q.add(j.name, j.data, j.opts);
        out({ type: 'added', index, id: job.id, timestamp: job.timestamp });
      } catch (e) {
        out({ type: 'rejected', index, message: e.message });
      }
    }
  }
  await finish({ count: jobs.length });
}

// The processor behaviour shared by `work` (and mirrored by the Go tests):
//   {"sleepMs": n}                 sleep n ms first
//   {"fail": "reason"}             throw Error(reason)
//   {"failTimes": n, "fail": r}    throw only while attemptsMade < n
//   {"unrecoverable": "reason"}    throw UnrecoverableError(reason)
//   {"return": v}                  return v (default: null)
//   {"progress": v}                job.updateProgress(v) first
//   {"log": "line"}                job.log(line) first
async function processJob(job) {
  const d = job.data || {};
  if (d.progress !== undefined) await job.updateProgress(d.progress);
  if (d.log !== undefined) await job.log(d.log);
  if (d.sleepMs) await sleep(d.sleepMs);
  if (d.unrecoverable !== undefined) throw new UnrecoverableError(String(d.unrecoverable));
  if (d.fail !== undefined && (d.failTimes === undefined || job.attemptsMade < d.failTimes)) {
    throw new Error(String(d.fail));
  }
  return d.return === undefined ? null : d.return;
}

// work: a Worker with args.concurrency, name, lockDuration, stalledInterval,
// maxStalledCount, drainDelay (default 1 s), removeOnComplete, removeOnFail,
// metrics ({maxDataPoints}).
// Prints started/completed/failed/stalled/drained lines. Exits after
// args.exitAfter final outcomes (completed, or failed without retry), or on
// the first `drained` event when args.exitOnDrained, or on SIGTERM.
async function work() {
  let finals = 0;
  let started = 0;
  const counts = { completed: 0, failed: 0, retried: 0 };
  const wopts = Object.assign({}, base, {
    concurrency: args.concurrency || 1,
    drainDelay: args.drainDelay || 1,
    autorun: false,
  });
  for (const k of ['name', 'lockDuration', 'stalledInterval', 'maxStalledCount', 'removeOnComplete', 'removeOnFail', 'lockRenewTime', 'metrics']) {
    if (args[k] !== undefined) wopts[k] = args[k];
  }
  const w = new Worker(args.queue, async job => {
    started++;
    out({ type: 'started', id: job.id, name: job.name, ts: Date.now(), attemptsMade: job.attemptsMade, n: started });
    return processJob(job);
  }, wopts);
  w.on('error', e => process.stderr.write('worker error: ' + e.message + '\n'));
  closers.push(() => w.close());
  const done = () => {
    if (args.exitAfter && finals >= args.exitAfter) finish(Object.assign({ finals }, counts));
  };
  w.on('completed', (job, result) => {
    finals++;
    counts.completed++;
    if (!args.quiet) out({ type: 'completed', id: job.id, result: result === undefined ? null : result, ts: Date.now() });
    done();
  });
  w.on('failed', (job, err) => {
    if (!job) return;
    const final = !!job.finishedOn;
    if (final) {
      finals++;
      counts.failed++;
    } else {
      counts.retried++;
    }
    out({ type: 'failed', id: job.id, reason: err.message, final, attemptsMade: job.attemptsMade, ts: Date.now() });
    done();
  });
  w.on('stalled', (id, prev) => out({ type: 'stalled', id, prev }));
  w.on('drained', () => {
    out({ type: 'drained' });
    if (args.exitOnDrained) finish(Object.assign({ finals }, counts));
  });
  await w.waitUntilReady();
  w.run().catch(fail);
  out({ type: 'ready' });
}

// hang: a Worker that takes jobs and never finishes them (for SIGKILL tests).
// Prints {"type":"started","id"} per job.
async function hang() {
  const wopts = Object.assign({}, base, { concurrency: args.concurrency || 1, drainDelay: args.drainDelay || 1, autorun: false });
  for (const k of ['name', 'lockDuration', 'stalledInterval', 'maxStalledCount']) {
    if (args[k] !== undefined) wopts[k] = args[k];
  }
  const w = new Worker(args.queue, async job => {
    out({ type: 'started', id: job.id, ts: Date.now() });
    await new Promise(() => {});
  }, wopts);
  w.on('error', e => process.stderr.write('worker error: ' + e.message + '\n'));
  closers.push(() => w.close(true));
  await w.waitUntilReady();
  w.run().catch(fail);
  out({ type: 'ready' });
}

// events: a QueueEvents reading from args.lastEventId (default '0'); prints
// {"type":"event","event","streamId","args"} for every entry, in stream
// order. Fails (exit 1) on an `error` event. Exits after args.count events,
// or when an event args.untilEvent (optionally for jobId args.untilJobId) is
// seen, or on SIGTERM.
async function events() {
  const qe = new QueueEvents(args.queue, Object.assign({}, base, {
    lastEventId: args.lastEventId || '0',
    blockingTimeout: args.blockingTimeout || 1000,
    autorun: false,
  }));
  closers.push(() => qe.close());
  let n = 0;
  const origEmit = qe.emit.bind(qe);
  qe.emit = (event, ...rest) => {
    if (event === 'error') {
      fail(rest[0]);
      return origEmit(event, ...rest);
    }
    // Per-job aliases (`completed:<id>`) duplicate the plain event.
    if (typeof event === 'string' && !event.includes(':') && rest.length >= 1) {
      const streamId = event === 'drained' ? rest[0] : rest[1];
      const a = event === 'drained' ? {} : rest[0];
      if (typeof streamId === 'string') {
        n++;
        out({ type: 'event', event, streamId, args: a });
        if ((args.count && n >= args.count) ||
            (args.untilEvent === event && (!args.untilJobId || a.jobId === args.untilJobId))) {
          finish({ count: n });
        }
      }
    }
    return origEmit(event, ...rest);
  };
  qe.on('error', () => {});
  await qe.waitUntilReady();
  qe.run().catch(fail);
  out({ type: 'ready' });
}

// inspect: prints {"type":"job","id","state","job"} for each of args.ids,
// then {"type":"queue","counts","workers","meta","paused","version"} and done.
// args.logs adds "logs"; args.children adds "childrenValues" and
// "ignoredFailures" (flow parents) to each job line.
async function inspect() {
  const q = newQueue({ skipMetasUpdate: true });
  await q.waitUntilReady();
  out({ type: 'ready' });
  for (const id of args.ids || []) {
    const state = await q.getJobState(id);
    let job = null;
    let jobError;
    try {
      job = jobView(await q.getJob(id));
    } catch (e) {
      jobError = e.message;
    }
    const line = { type: 'job', id, state, job };
    if (jobError) line.jobError = jobError;
    if (args.logs) line.logs = await q.getJobLogs(id);
    if (args.children) {
      // Flow parents: job.getChildrenValues() (processed children, values
      // decoded) and job.getIgnoredChildrenFailures() (the `:failed` hash).
      const j = await q.getJob(id);
      line.childrenValues = j ? (await j.getChildrenValues()) || null : null;
      line.ignoredFailures = j ? (await j.getIgnoredChildrenFailures()) || null : null;
    }
    out(line);
  }
  const counts = await q.getJobCounts();
  const workers = (await q.getWorkers()).map(w => ({ name: w.name, rawname: w.rawname }));
  const meta = await q.getMeta();
  out({ type: 'queue', counts, workers, meta, paused: await q.isPaused(), version: await q.getVersion() });
  await finish({});
}

// admin: runs args.ops in order, each {op: pause|resume|setGlobalConcurrency|
// setGlobalRateLimit|remove, args: [...]}; prints {"type":"op","op"} per op.
async function admin() {
  const q = newQueue({ skipMetasUpdate: true });
  await q.waitUntilReady();
  out({ type: 'ready' });
  for (const o of args.ops || []) {
    const r = await q[o.op](...(o.args || []));
    out({ type: 'op', op: o.op, result: r === undefined ? null : r });
  }
  await finish({});
}

// flow: args.flow = {name, queueName, data, opts, children: [...]} added with
// a FlowProducer; prints {"type":"flow","id","children":[ids]} and done.
async function flow() {
  const fp = new FlowProducer(base);
  fp.on('error', fail);
  closers.push(() => fp.close());
  await fp.waitUntilReady();
  out({ type: 'ready' });
  const tree = await fp.add(args.flow);
  out({ type: 'flow', id: tree.job.id, children: (tree.children || []).map(c => c.job.id) });
  await finish({});
}

// getflow: FlowProducer.getFlow({id: args.id, queueName: args.queue,
// depth, maxChildren}); prints {"type":"tree","tree"} where each node is
// {id, name, queue (queueQualifiedName), children?} and done.
async function getflow() {
  const fp = new FlowProducer(base);
  fp.on('error', fail);
  closers.push(() => fp.close());
  await fp.waitUntilReady();
  out({ type: 'ready' });
  const view = n => n && Object.assign({ id: n.job.id, name: n.job.name, queue: n.job.queueQualifiedName },
    n.children ? { children: n.children.filter(c => c).map(view) } : {});
  const tree = await fp.getFlow({ id: args.id, queueName: args.queue, depth: args.depth, maxChildren: args.maxChildren });
  out({ type: 'tree', tree: view(tree) || null });
  await finish({});
}

// finished: for each of args.ids, job.waitUntilFinished(queueEvents) and
// print {"type":"finished","id","result"} or {"type":"finished","id","reason"}.
async function finishedScenario() {
  const q = newQueue({ skipMetasUpdate: true });
  const qe = new QueueEvents(args.queue, Object.assign({}, base, { lastEventId: '0' }));
  qe.on('error', fail);
  closers.push(() => qe.close());
  await q.waitUntilReady();
  await qe.waitUntilReady();
  out({ type: 'ready' });
  for (const id of args.ids || []) {
    const job = await q.getJob(id);
    if (!job) {
      out({ type: 'finished', id, reason: 'missing' });
      continue;
    }
    try {
      const result = await job.waitUntilFinished(qe, args.ttl || 20000);
      out({ type: 'finished', id, result: result === undefined ? null : result });
    } catch (e) {
      out({ type: 'finished', id, reason: e.message });
    }
  }
  await finish({});
}

// schedule: runs args.ops in order on a Queue, each {op: upsert|get|remove,
// id, repeat, template}; prints {"type":"op","op","result"} per op, where
// upsert returns the first iteration {id, delay} and get the scheduler
// (getJobScheduler: key, name, next, iterationCount, every|pattern, ...).
async function schedule() {
  const q = newQueue({ skipMetasUpdate: true });
  await q.waitUntilReady();
  out({ type: 'ready' });
  for (const o of args.ops || []) {
    let result = null;
    if (o.op === 'upsert') {
      const j = await q.upsertJobScheduler(o.id, o.repeat, o.template || {});
      result = j ? { id: j.id, delay: j.delay } : null;
    } else if (o.op === 'get') {
      result = (await q.getJobScheduler(o.id)) || null;
    } else if (o.op === 'remove') {
      result = await q.removeJobScheduler(o.id);
    } else {
      throw new Error('unknown schedule op ' + o.op);
    }
    out({ type: 'op', op: o.op, result });
  }
  await finish({});
}

// getters: runs args.calls in order on a Queue, each {op: getJobs|
// getJobCounts|getJobLogs|getWorkers, args: [...]}; prints {"type":"op",
// "op","result"} per call, where getJobs' result is the list of job ids and
// getWorkers' the list of {name, rawname}.
async function getters() {
  const q = newQueue({ skipMetasUpdate: true });
  await q.waitUntilReady();
  out({ type: 'ready' });
  for (const c of args.calls || []) {
    let r = await q[c.op](...(c.args || []));
    if (c.op === 'getJobs') r = r.map(j => j.id);
    if (c.op === 'getWorkers') r = r.map(w => ({ name: w.name, rawname: w.rawname }));
    out({ type: 'op', op: c.op, result: r === undefined ? null : r });
  }
  await finish({});
}

// jobops: runs args.ops in order, each {id, op: a Job method (updateData,
// changePriority, changeDelay, promote, retry, remove, …), args: [...]} on
// queue.getJob(id); prints {"type":"op","op","id","result"} or
// {"type":"op","op","id","error"} per op (errors do not fail the scenario).
async function jobops() {
  const q = newQueue({ skipMetasUpdate: true });
  await q.waitUntilReady();
  out({ type: 'ready' });
  for (const o of args.ops || []) {
    const job = await q.getJob(o.id);
    if (!job) {
      out({ type: 'op', op: o.op, id: o.id, error: 'missing' });
      continue;
    }
    try {
      const r = await job[o.op](...(o.args || []));
      out({ type: 'op', op: o.op, id: o.id, result: r === undefined ? null : r });
    } catch (e) {
      out({ type: 'op', op: o.op, id: o.id, error: e.message });
    }
  }
  await finish({});
}

const scenarios = { jobops, getters, add, work, hang, events, inspect, admin, flow, getflow, finished: finishedScenario, schedule };
if (!scenarios[scenario]) {
  out({ type: 'error', message: 'unknown scenario ' + scenario });
  process.exit(2);
}
scenarios[scenario]().catch(fail);
