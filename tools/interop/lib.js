// Shared helpers of the interop scenarios (eio.js, sio.js, cluster.js, failover.js): argument
// parsing, a tiny check runner that prints one line per check, timeouts, byte comparison, HS256
// token signing, a socket.io-client socket that records what it receives, and the lines a Go
// driver writes on stdin.
"use strict";

const crypto = require("node:crypto");
const readline = require("node:readline");
const { io } = require("socket.io-client");

// parseArgs reads `[--url URL] [--timeout SECONDS] [scenario ...]`; the URL falls back to
// $TARGET_URL, then to http://127.0.0.1:3000.
function parseArgs(argv) {
  const out = { url: process.env.TARGET_URL || "http://127.0.0.1:3000", timeout: 0, scenarios: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--url") out.url = argv[++i];
    else if (a.startsWith("--url=")) out.url = a.slice(6);
    else if (a === "--timeout") out.timeout = Number(argv[++i]);
    else if (a.startsWith("--timeout=")) out.timeout = Number(a.slice(10));
    else if (a === "-h" || a === "--help") out.help = true;
    else out.scenarios.push(a);
  }
  out.url = String(out.url).replace(/\/+$/, "");
  return out;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// withTimeout rejects with `what timed out after Nms` when p does not settle in time.
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// once resolves with the arguments of the next `event` of emitter (an array), or rejects on
// one of the failure events or after ms.
function once(emitter, event, ms, failEvents) {
  return withTimeout(
    new Promise((resolve, reject) => {
      emitter.once(event, (...args) => resolve(args));
      for (const fe of failEvents || []) {
        emitter.once(fe, (...args) => {
          const a = args[0];
          reject(new Error(`got "${fe}" while waiting for "${event}": ${a && a.message ? a.message : JSON.stringify(args)}`));
        });
      }
    }),
    ms,
    `waiting for "${event}"`
  );
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// toBuf returns the bytes of a Buffer, ArrayBuffer or typed array, or null for anything else.
function toBuf(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return null;
}

// deepEqual compares JSON-like values where binary leaves compare by bytes whatever their
// container type (Buffer, ArrayBuffer, Uint8Array).
function deepEqual(a, b) {
  const ba = toBuf(a);
  const bb = toBuf(b);
  if (ba || bb) return !!(ba && bb && ba.equals(bb));
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

// describe renders a value for a failure message, binary as <N bytes>, long strings cut.
function describe(v) {
  const s = JSON.stringify(v, (k, x) => {
    const b = toBuf(x);
    if (b) return `<${b.length} bytes>`;
    if (x && x.type === "Buffer" && Array.isArray(x.data)) return `<${x.data.length} bytes>`;
    if (typeof x === "string" && x.length > 80) return x.slice(0, 40) + `…(${x.length} chars)`;
    return x;
  });
  return s === undefined ? "undefined" : s;
}

// signJWT makes a compact JWS with an HMAC algorithm (HS256 by default) from the node:crypto
// module, so the interop project needs no JWT package.
function signJWT(claims, secret, alg) {
  alg = alg || "HS256";
  const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = b64({ alg, typ: "JWT" }) + "." + b64(claims);
  const sig = crypto.createHmac(hash, secret).update(head).digest("base64url");
  return head + "." + sig;
}

function nowSec() {
  return Math.floor(Date.now() / 1000);
}

// Runner runs named checks one after the other and prints one line per check:
//   ok   <scenario>/<check> (12ms)
//   FAIL <scenario>/<check>: <reason>
class Runner {
  constructor(prefix) {
    this.prefix = prefix;
    this.passed = 0;
    this.failed = 0;
    this.cleanups = [];
  }

  // defer registers fn to run after the current check, pass or fail (sockets to close).
  defer(fn) {
    this.cleanups.push(fn);
  }

  async check(name, ms, fn) {
    const start = Date.now();
    const label = `${this.prefix}/${name}`;
    try {
      await withTimeout(Promise.resolve().then(fn), ms, label);
      this.passed++;
      console.log(`ok   ${label} (${Date.now() - start}ms)`);
      return true;
    } catch (e) {
      this.failed++;
      console.log(`FAIL ${label}: ${e && e.message ? e.message : e} (${Date.now() - start}ms)`);
      return false;
    } finally {
      const cleanups = this.cleanups.splice(0).reverse();
      for (const c of cleanups) {
        try {
          c();
        } catch (_) {
          // closing an already broken socket may throw; nothing to do
        }
      }
    }
  }
}

// main runs the selected scenarios with a global deadline and exits 0 only when every check
// passed. scenarios maps a name to {run(runner, ctx), standalone}; the ones not marked
// standalone:false run when no name is given.
async function main(tool, scenarios, defaultTimeoutSec) {
  const args = parseArgs(process.argv.slice(2));
  const names = Object.keys(scenarios);
  if (args.help) {
    console.log(`usage: node ${tool}.js [--url ${args.url}] [--timeout seconds] [scenario ...]`);
    console.log(`scenarios: ${names.join(", ")}`);
    process.exit(0);
  }
  const selected = args.scenarios.length > 0 ? args.scenarios : names.filter((n) => scenarios[n].standalone !== false);
  for (const n of selected) {
    if (!scenarios[n]) {
      console.log(`FAIL ${tool}: unknown scenario ${JSON.stringify(n)} (have: ${names.join(", ")})`);
      process.exit(2);
    }
  }
  const timeoutSec = args.timeout > 0 ? args.timeout : defaultTimeoutSec;
  const deadline = setTimeout(() => {
    console.log(`FAIL ${tool}: global timeout of ${timeoutSec}s exceeded`);
    process.exit(1);
  }, timeoutSec * 1000);
  deadline.unref();

  let passed = 0;
  let failed = 0;
  for (const n of selected) {
    const r = new Runner(`${tool}/${n}`);
    try {
      await scenarios[n].run(r, { url: args.url });
    } catch (e) {
      r.failed++;
      console.log(`FAIL ${tool}/${n}: ${e && e.stack ? e.stack : e}`);
    }
    passed += r.passed;
    failed += r.failed;
  }
  console.log(`${tool}: ${passed} checks passed, ${failed} failed`);
  // Sockets left by a failed check would keep the event loop alive: exit explicitly.
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

// Client is one socket.io-client socket (WebSocket only, no reconnection: a lost connection
// stays visible) that records every event it receives, with its arrival time, and every
// disconnect reason.
class Client {
  constructor(server, name) {
    this.server = server;
    this.name = name;
    this.events = [];
    this.disconnects = [];
    this.s = io(server, { path: "/socket.io/", transports: ["websocket"], forceNew: true, reconnection: false });
    this.s.onAny((ev, ...args) => this.events.push({ ev, args, at: Date.now() }));
    this.s.on("disconnect", (reason) => this.disconnects.push(reason));
  }

  get id() {
    return this.s.id;
  }

  connect() {
    if (this.s.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.s.once("connect", resolve);
      this.s.once("connect_error", (e) => reject(new Error(`${this.name}: connect_error ${e.message}`)));
    });
  }

  // wait resolves with the first recorded event named ev (after index from) matching pred.
  async wait(ev, pred, ms, from) {
    const start = Date.now();
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= (from || 0) && e.ev === ev && (!pred || pred(e.args)));
      if (i >= 0) return { index: i, event: this.events[i] };
      if (Date.now() - start > ms) {
        const last = this.events.slice(-5).map((e) => e.ev + describe(e.args));
        throw new Error(`${this.name} (${this.server}): no "${ev}" within ${ms}ms; last events ${last.join(" ")}`);
      }
      await sleep(5);
    }
  }

  has(ev, pred, before) {
    return this.events.some((e, k) => (before === undefined || k < before) && e.ev === ev && (!pred || pred(e.args)));
  }
}

// stdinLines starts reading the lines a driver (a Go test) writes on stdin and returns
// waitLine(prefix), which resolves with the first line starting with prefix, whether it came
// before the call or after. Only the scripts that call it read stdin.
function stdinLines() {
  const early = [];
  const waiters = [];
  readline.createInterface({ input: process.stdin }).on("line", (raw) => {
    const line = raw.trim();
    const w = waiters.findIndex((x) => line.startsWith(x.prefix));
    if (w >= 0) waiters.splice(w, 1)[0].resolve(line);
    else early.push(line);
  });
  return function waitLine(prefix) {
    const i = early.findIndex((line) => line.startsWith(prefix));
    if (i >= 0) return Promise.resolve(early.splice(i, 1)[0]);
    return new Promise((resolve) => waiters.push({ prefix, resolve }));
  };
}

module.exports = {
  Client,
  assert,
  deepEqual,
  describe,
  main,
  nowSec,
  once,
  parseArgs,
  signJWT,
  sleep,
  stdinLines,
  toBuf,
  withTimeout,
};
