#!/usr/bin/env node
// Socket.IO v5 interop scenarios, run with the official socket.io-client against a server with
// the sioloop application behaviour at /socket.io/ (sioloop itself, or tools/peers/node).
//
// usage: node sio.js [--url http://127.0.0.1:3000] [--timeout seconds] [scenario ...]
// Scenarios: connect namespaces echo binary rooms admin many auth tokens reconnect. With no name,
// all run except reconnect (it needs a driver, see below), tokens (it needs TOKEN_URL) and auth
// (only when JWT_SECRET is set).
// Each check prints one line ("ok ..." or "FAIL ..."); the exit status is 1 on any failure.
//
// What the scenarios expect from the server:
//   - NAMESPACES includes "/custom" and "/org-*" (namespaces scenario);
//   - JWT_SECRET in this process's environment is the server's secret; when set, every client
//     sends an HS256 token in auth.token (the auth scenario needs it);
//   - reconnect: after "@@RESTART_SERVER@@" is printed on stdout, whoever runs the script stops
//     the server and starts it again on the same port; the clients must reconnect by
//     themselves and echo again.
"use strict";

const http = require("node:http");
const net = require("node:net");
const { io, Manager } = require("socket.io-client");
const { assert, deepEqual, describe, main, nowSec, once, signJWT, sleep, withTimeout } = require("./lib");

const PATH = "/socket.io/";
const JWT_SECRET = process.env.JWT_SECRET || "";
const RESTART_MARKER = "@@RESTART_SERVER@@";
// A POST /SendWebsocketEvent body this large must get 413 (the server's limit is below it).
const ADMIN_OVERSIZED_BODY = 4 << 20;

const WS = { transports: ["websocket"] };
const POLLING = { transports: ["polling"], upgrade: false };

function token(claims) {
  return signJWT(Object.assign({ sub: "interop", iat: nowSec(), exp: nowSec() + 600 }, claims || {}), JWT_SECRET);
}

// client makes a socket with forceNew and no reconnection (a failure must show, not be
// retried), a token when the server wants one, and closes it after the current check.
function client(r, url, nsp, opts) {
  const o = Object.assign({ path: PATH, forceNew: true, reconnection: false, timeout: 10000 }, opts || {});
  if (JWT_SECRET && o.auth === undefined) o.auth = { token: token() };
  const s = io(url + (nsp || "/"), o);
  if (r) r.defer(() => s.close());
  return s;
}

async function connected(s, ms) {
  if (s.connected) return s;
  await once(s, "connect", ms || 10000, ["connect_error"]);
  return s;
}

async function connectClient(r, url, nsp, opts) {
  return connected(client(r, url, nsp, opts));
}

function transportName(s) {
  return s.io.engine && s.io.engine.transport && s.io.engine.transport.name;
}

// Recorder keeps every received instance of some events, to count them later.
class Recorder {
  constructor(s, events) {
    this.got = {};
    for (const ev of events) {
      this.got[ev] = [];
      s.on(ev, (...args) => this.got[ev].push(args));
    }
  }

  count(ev) {
    return this.got[ev].length;
  }

  async wait(ev, n, ms) {
    const start = Date.now();
    while (this.got[ev].length < n) {
      if (Date.now() - start > ms) throw new Error(`waited ${ms}ms for ${n} "${ev}", got ${this.got[ev].length}`);
      await sleep(5);
    }
    return this.got[ev];
  }
}

// echo emits `message` with args and waits for the echoed `message` event.
async function echo(s, args, ms) {
  const p = once(s, "message", ms || 5000, ["disconnect"]);
  s.emit("message", ...args);
  const got = await p;
  if (!deepEqual(got, args)) throw new Error(`echo mismatch: sent ${describe(args)}, got ${describe(got)}`);
}

// post sends POST /SendWebsocketEvent with node:http rather than fetch: a server may answer
// 413 and close before it read an oversized body, and the answer must still be read (fetch
// reports the broken upload instead).
function post(url, body, headers) {
  const data = Buffer.from(typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(url + "/SendWebsocketEvent", {
      method: "POST",
      agent: false,
      headers: Object.assign({ "content-type": "application/json", "content-length": data.length }, headers || {}),
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch (_) {
          json = undefined;
        }
        resolve({ status: res.statusCode, json, text });
      });
    });
    req.on("error", (e) => {
      if (!answered) reject(new Error(`POST /SendWebsocketEvent (${data.length} bytes): ${e.message} before any response`));
    });
    req.end(data);
  });
}

// rawPost sends POST /SendWebsocketEvent over a bare TCP socket and returns what the server
// answered, even when it closes (or resets) the connection before the whole body was sent: an
// HTTP client library drops the response when its upload fails, which a server refusing an
// oversized body may legitimately cause.
function rawPost(url, body) {
  const u = new URL(url);
  const data = Buffer.from(body);
  const head = Buffer.from(
    `POST /SendWebsocketEvent HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${data.length}\r\nConnection: close\r\n\r\n`
  );
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect(Number(u.port), u.hostname);
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      const raw = Buffer.concat(chunks).toString("utf8");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      if (!m) {
        return reject(
          new Error(
            `POST /SendWebsocketEvent (${data.length} bytes): no HTTP response before the connection ended ` +
              `(${err ? err.message : "closed"}); a Node client still uploading cannot read a 413 sent before a reset: ` +
              `read and drop the rest of the body before answering, as tools/peers/node does`
          )
        );
      }
      const sep = raw.indexOf("\r\n\r\n");
      const headers = raw.slice(0, sep).toLowerCase();
      let text = sep < 0 ? "" : raw.slice(sep + 4);
      if (/\r\ntransfer-encoding:\s*chunked/.test(headers)) {
        let out = "";
        for (let rest = text; ; ) {
          const nl = rest.indexOf("\r\n");
          const n = parseInt(rest.slice(0, nl), 16);
          if (!(n > 0)) break;
          out += rest.slice(nl + 2, nl + 2 + n);
          rest = rest.slice(nl + 2 + n + 2);
        }
        text = out;
      }
      let json;
      try {
        json = JSON.parse(text);
      } catch (_) {
        json = undefined;
      }
      resolve({ status: Number(m[1]), json, text });
    };
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", () => finish());
    sock.on("close", () => finish());
    sock.on("error", (e) => finish(e));
    sock.setTimeout(10000, () => finish(new Error("timeout")));
    sock.write(head);
    sock.write(data, () => {});
  });
}

async function postOK(url, body) {
  const res = await post(url, body);
  const text = res.text.trim();
  assert(res.status === 200, `POST ${describe(body)}: status ${res.status} ${text}`);
  const j = res.json;
  assert(j && j.status === "success", `POST ${describe(body)}: body ${text}`);
  assert(Number.isInteger(j.events_sent) && Number.isInteger(j.recipients), `POST: bad counters in ${text}`);
  assert(
    typeof j.duration === "string" && /^\d+(\.\d+)?ms$/.test(j.duration),
    `POST: duration ${describe(j.duration)}, want milliseconds like "0.123ms" (in ${text})`
  );
  return j;
}

let sentinelSeq = 0;

// barrier broadcasts a `sentinel` event to the whole namespace and waits until each recorder
// saw it. Events reach a socket in the order they were emitted, so anything a client has not
// received by then was not sent to it: no sleep needed to prove an absence.
async function barrier(url, recorders, namespace) {
  const seq = ++sentinelSeq;
  await postOK(url, { event: "sentinel", data: { seq }, namespace: namespace || "/" });
  await Promise.all(
    recorders.map(async (rec) => {
      const start = Date.now();
      for (;;) {
        if (rec.got.sentinel.some((a) => a[0] && a[0].seq === seq)) return;
        if (Date.now() - start > 5000) throw new Error(`sentinel ${seq} not received`);
        await sleep(5);
      }
    })
  );
}

function rand() {
  return Math.random().toString(36).slice(2, 10);
}

// manyChecks opens n WebSocket clients at once into sockets, then checks that one broadcast
// reaches every one of them.
async function manyChecks(r, url, N, sockets) {
  await r.check(`${N}-clients-connect`, 90000, async () => {
    const errors = [];
    const start = Date.now();
    // As fast as possible: all sockets are created in one synchronous loop.
    for (let i = 0; i < N; i++) {
      const s = client(null, url, "/", Object.assign({ timeout: 60000 }, WS));
      s.on("connect_error", (e) => errors.push(e.message));
      sockets.push(s);
    }
    const deadline = Date.now() + 80000;
    let n = 0;
    while ((n = sockets.filter((s) => s.connected).length) < N) {
      if (errors.length > 0) throw new Error(`${errors.length} connect_error(s), first: ${errors[0]} (${n}/${N} connected)`);
      if (Date.now() > deadline) throw new Error(`${n}/${N} connected after 80s`);
      await sleep(20);
    }
    console.log(`     ${N} connected in ${Date.now() - start}ms`);
    const ids = new Set(sockets.map((s) => s.id));
    assert(ids.size === N, `${ids.size} distinct socket ids for ${N} sockets`);
    const root = await (await fetch(url + "/")).json();
    assert(root.connectedClients >= N, `server counts ${root.connectedClients} connected clients, want >= ${N}`);
  });
  await r.check(`${N}-clients-broadcast`, 30000, async () => {
    assert(sockets.length === N && sockets.every((s) => s.connected), "clients not connected");
    const tag = rand();
    let got = 0;
    const done = new Promise((resolve) => {
      for (const s of sockets) {
        s.once("broadcast", (d) => {
          if (d && d.tag === tag && ++got === N) resolve();
        });
      }
    });
    const start = Date.now();
    const res = await postOK(url, { event: "broadcast", data: { tag } });
    assert(res.recipients >= N, `recipients ${res.recipients}, want >= ${N}`);
    await withTimeout(done, 20000, `broadcast (${got}/${N} received)`).catch((e) => {
      throw new Error(`${e.message}; ${got}/${N} received`);
    });
    console.log(`     broadcast reached ${N} clients in ${Date.now() - start}ms`);
  });
}

const scenarios = {
  connect: {
    async run(r, { url }) {
      await r.check("websocket-only", 10000, async () => {
        const s = await connectClient(r, url, "/", WS);
        assert(transportName(s) === "websocket", `transport ${transportName(s)}`);
        assert(typeof s.id === "string" && s.id.length > 0, "no socket id");
        assert(s.id !== s.io.engine.id, "socket id equals the Engine.IO sid (v5 wants a separate id)");
        await echo(s, ["ws"]);
      });
      await r.check("polling-only", 10000, async () => {
        const s = await connectClient(r, url, "/", POLLING);
        assert(transportName(s) === "polling", `transport ${transportName(s)}`);
        await echo(s, ["polling"]);
        await echo(s, ["polling", 2]);
        assert(transportName(s) === "polling", "polling-only client changed transport");
      });
      await r.check("default-with-upgrade", 10000, async () => {
        const s = client(r, url, "/", {});
        const upgraded = once(s.io.engine, "upgrade", 8000, ["upgradeError"]);
        await connected(s);
        const [t] = await upgraded;
        assert(t && t.name === "websocket", `upgraded to ${t && t.name}`);
        assert(transportName(s) === "websocket", `transport after upgrade ${transportName(s)}`);
        await echo(s, ["after upgrade"]);
      });
    },
  },

  namespaces: {
    async run(r, { url }) {
      await r.check("root-and-custom-multiplexed", 10000, async () => {
        const m = new Manager(url, { path: PATH, reconnection: false, timeout: 10000 });
        const auth = JWT_SECRET ? { token: token() } : undefined;
        const root = m.socket("/", { auth });
        const custom = m.socket("/custom", { auth });
        r.defer(() => m.engine && m.engine.close());
        r.defer(() => custom.disconnect());
        r.defer(() => root.disconnect());
        await Promise.all([connected(root), connected(custom)]);
        assert(root.id !== custom.id, "same socket id in two namespaces");
        const recRoot = new Recorder(root, ["message"]);
        const recCustom = new Recorder(custom, ["message"]);
        custom.emit("message", "to-custom");
        await recCustom.wait("message", 1, 5000);
        root.emit("message", "to-root");
        await recRoot.wait("message", 1, 5000);
        assert(recRoot.count("message") === 1 && recCustom.count("message") === 1, "echo crossed namespaces");
        assert(deepEqual(recCustom.got.message[0], ["to-custom"]), `custom echo ${describe(recCustom.got.message[0])}`);
        const acked = await custom.timeout(3000).emitWithAck("message", "ack-custom");
        assert(acked === "ack-custom", `ack on /custom: ${describe(acked)}`);
      });
      await r.check("glob-namespace", 10000, async () => {
        const s = await connectClient(r, url, "/org-acme", WS);
        await echo(s, ["org"]);
      });
      await r.check("unknown-namespace-refused", 10000, async () => {
        const s = client(r, url, "/nope", WS);
        const [err] = await once(s, "connect_error", 8000, ["connect"]);
        assert(err && err.message === "Invalid namespace", `connect_error ${describe(err && err.message)}`);
      });
      await r.check("unknown-namespace-keeps-others", 10000, async () => {
        const m = new Manager(url, { path: PATH, reconnection: false, timeout: 10000, transports: ["websocket"] });
        const auth = JWT_SECRET ? { token: token() } : undefined;
        const root = m.socket("/", { auth });
        const bad = m.socket("/nope", { auth });
        const refused = once(bad, "connect_error", 8000, ["connect"]);
        r.defer(() => m.engine && m.engine.close());
        r.defer(() => root.disconnect());
        await connected(root);
        const [err] = await refused;
        assert(err.message === "Invalid namespace", `connect_error ${describe(err.message)}`);
        await echo(root, ["still connected"]);
      });
    },
  },

  echo: {
    async run(r, { url }) {
      for (const [name, opts] of [["websocket", WS], ["polling", POLLING]]) {
        await r.check(`${name}-event`, 10000, async () => {
          const s = await connectClient(r, url, "/", opts);
          await echo(s, ["hello"]);
          await echo(s, ["€😀 ünïcode", 42, 1.5, true, null, { a: [1, "two", { three: 3 }] }, [], {}]);
          await echo(s, [""]);
        });
        await r.check(`${name}-ack`, 10000, async () => {
          const s = await connectClient(r, url, "/", opts);
          const rec = new Recorder(s, ["message"]);
          const got = await s.timeout(3000).emitWithAck("message", { n: 1, s: "€" });
          assert(deepEqual(got, { n: 1, s: "€" }), `emitWithAck resolved ${describe(got)}`);
          // The echo event comes too when an ack was asked for.
          await rec.wait("message", 1, 3000);
          assert(deepEqual(rec.got.message[0], [{ n: 1, s: "€" }]), `echo ${describe(rec.got.message[0])}`);
          // Every argument comes back in the ack.
          const args = await new Promise((resolve, reject) => {
            s.timeout(3000).emit("message", "a", 2, ["c"], (err, ...rest) => (err ? reject(err) : resolve(rest)));
          });
          assert(deepEqual(args, ["a", 2, ["c"]]), `ack args ${describe(args)}`);
          // Acks are matched by id even when several are in flight.
          const many = await Promise.all([1, 2, 3, 4, 5].map((i) => s.timeout(3000).emitWithAck("message", i)));
          assert(deepEqual(many, [1, 2, 3, 4, 5]), `concurrent acks ${describe(many)}`);
        });
      }
    },
  },

  serverack: {
    async run(r, { url }) {
      for (const [name, opts] of [["websocket", WS], ["polling", POLLING]]) {
        await r.check(`${name}-server-asks`, 15000, async () => {
          const yes = await connectClient(r, url, "/", opts);
          const silent = await connectClient(r, url, "/", opts);
          const room = "ack-" + rand();
          await new Promise((resolve) => yes.emit("subscribe", room, resolve));
          await new Promise((resolve) => silent.emit("subscribe", room, resolve));
          yes.on("question", (q, cb) => cb({ answer: q.n * 2 }, "€"));
          silent.on("question", () => {}); // never acknowledges
          const j = await postOK(url, { event: "question", data: { n: 21 }, rooms: [room], ack: true, timeout: "1s" });
          assert(j.recipients === 2, `recipients ${j.recipients}, want 2`);
          assert(j.timeouts === 1, `timeouts ${describe(j.timeouts)}, want 1 (the silent client)`);
          assert(Array.isArray(j.responses) && j.responses.length === 1, `responses ${describe(j.responses)}`);
          assert(j.responses[0].id === yes.id, `answer from ${j.responses[0].id}, want ${yes.id}`);
          assert(deepEqual(j.responses[0].args, [{ answer: 42 }, "€"]), `ack args ${describe(j.responses[0].args)}`);
        });
      }
    },
  },
  binary: {
    async run(r, { url }) {
      const blob = Buffer.alloc(100000);
      for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + 3) & 0xff;
      const nested = {
        file: Buffer.from([0, 1, 2, 254, 255]),
        list: [Buffer.from("€😀"), { deep: Buffer.from([9]), text: "x" }, 3],
        big: blob,
      };
      for (const [name, opts] of [["websocket", WS], ["polling", POLLING]]) {
        await r.check(`${name}-event`, 15000, async () => {
          const s = await connectClient(r, url, "/", opts);
          await echo(s, [Buffer.from([1, 2, 3])]);
          await echo(s, [nested, "text after", Buffer.from([4])]);
          await echo(s, [[Buffer.from([5]), [Buffer.from([6]), { b: Buffer.from([7]) }]]]);
          await echo(s, [new Uint8Array([8, 9])]);
        });
        await r.check(`${name}-ack`, 15000, async () => {
          const s = await connectClient(r, url, "/", opts);
          const got = await s.timeout(5000).emitWithAck("message", nested);
          assert(deepEqual(got, nested), `binary ack ${describe(got)}`);
          assert(Buffer.isBuffer(got.file), "ack attachment is not a Buffer");
        });
      }
    },
  },

  rooms: {
    async run(r, { url }) {
      const room1 = `room1-${rand()}`;
      const room2 = `room2-${rand()}`;
      let a, b, c, ra, rb, rc;
      const events = ["news", "sports", "broadcast", "sentinel", "message"];
      const ok = await r.check("subscribe-acks-room-list", 10000, async () => {
        [a, b, c] = await Promise.all([
          connected(client(null, url, "/", WS)),
          connected(client(null, url, "/", POLLING)),
          connected(client(null, url, "/", {})),
        ]);
        [ra, rb, rc] = [a, b, c].map((s) => new Recorder(s, events));
        const roomsA = await a.timeout(3000).emitWithAck("subscribe", room1);
        assert(Array.isArray(roomsA), `subscribe ack ${describe(roomsA)}`);
        assert(roomsA.includes(a.id) && roomsA.includes(room1) && roomsA.length === 2, `A rooms ${describe(roomsA)}`);
        const roomsB = await b.timeout(3000).emitWithAck("subscribe", [room1, room2]);
        assert(roomsB.includes(b.id) && roomsB.includes(room1) && roomsB.includes(room2) && roomsB.length === 3, `B rooms ${describe(roomsB)}`);
        // Subscribing twice changes nothing.
        const again = await a.timeout(3000).emitWithAck("subscribe", [room1]);
        assert(again.length === 2, `A rooms after a second subscribe ${describe(again)}`);
      });
      if (!ok) {
        for (const s of [a, b, c]) if (s) s.close();
        return;
      }
      try {
        await r.check("cannot-join-another-socket-room", 10000, async () => {
          const roomsA = await a.timeout(3000).emitWithAck("subscribe", [c.id]);
          assert(!roomsA.includes(c.id), `A joined C's private room: ${describe(roomsA)}`);
          await postOK(url, { channel: "news", payload: "private", to: c.id });
          await barrier(url, [ra, rb, rc]);
          assert(rc.count("news") === 1 && ra.count("news") === 0 && rb.count("news") === 0, `to=C reached A=${ra.count("news")} B=${rb.count("news")} C=${rc.count("news")}`);
          assert(deepEqual(rc.got.news[0], [{ payload: "private" }]), `C got ${describe(rc.got.news[0])}`);
        });
        await r.check("room-targeted-event", 10000, async () => {
          const before = [ra, rb, rc].map((x) => x.count("news"));
          const res = await postOK(url, { channel: "news", payload: { n: 1, s: "€" }, rooms: [room1] });
          assert(res.events_sent === 1 && res.recipients === 2, `response ${describe(res)}`);
          await barrier(url, [ra, rb, rc]);
          const got = [ra, rb, rc].map((x, i) => x.count("news") - before[i]);
          assert(deepEqual(got, [1, 1, 0]), `news deliveries A,B,C = ${got}, want 1,1,0`);
          assert(deepEqual(ra.got.news[ra.count("news") - 1], [{ payload: { n: 1, s: "€" } }]), `A got ${describe(ra.got.news)}`);
          const res2 = await postOK(url, { channel: "sports", payload: 2, rooms: room2 });
          assert(res2.recipients === 1, `room2 response ${describe(res2)}`);
          await barrier(url, [ra, rb, rc]);
          assert(ra.count("sports") === 0 && rb.count("sports") === 1 && rc.count("sports") === 0, "room2 event reached a non-member");
        });
        await r.check("except", 10000, async () => {
          const before = [ra, rb, rc].map((x) => x.count("news"));
          await postOK(url, { channel: "news", payload: "ex", rooms: [room1, c.id], except: [room2] });
          await barrier(url, [ra, rb, rc]);
          const got = [ra, rb, rc].map((x, i) => x.count("news") - before[i]);
          assert(deepEqual(got, [1, 0, 1]), `news deliveries A,B,C = ${got}, want 1,0,1`);
        });
        await r.check("channels-zip-payloads", 10000, async () => {
          const res = await postOK(url, { channels: ["news", "sports"], payload: ["p1", "p2", "p3"], rooms: [room2] });
          assert(res.events_sent === 2, `events_sent ${res.events_sent}, want 2`);
          await barrier(url, [ra, rb, rc]);
          assert(deepEqual(rb.got.news[rb.count("news") - 1], [{ payload: "p1" }]), `B news ${describe(rb.got.news)}`);
          assert(deepEqual(rb.got.sports[rb.count("sports") - 1], [{ payload: "p2" }]), `B sports ${describe(rb.got.sports)}`);
          const res2 = await postOK(url, { channels: ["news", "sports"], payload: { same: true }, rooms: [room2] });
          assert(res2.events_sent === 2, `events_sent ${res2.events_sent}, want 2`);
          await barrier(url, [ra, rb, rc]);
          assert(deepEqual(rb.got.sports[rb.count("sports") - 1], [{ payload: { same: true } }]), "non-array payload not sent to every channel");
        });
        await r.check("event-form-broadcast", 10000, async () => {
          const res = await postOK(url, { event: "broadcast", data: { hello: "all", list: [1, 2] } });
          assert(res.events_sent === 1 && res.recipients >= 3, `response ${describe(res)}`);
          for (const x of [ra, rb, rc]) {
            const got = await x.wait("broadcast", 1, 5000);
            assert(deepEqual(got[0], [{ hello: "all", list: [1, 2] }]), `broadcast ${describe(got[0])}`);
          }
        });
        await r.check("unsubscribe-stops-delivery", 10000, async () => {
          const roomsA = await a.timeout(3000).emitWithAck("unsubscribe", room1);
          assert(deepEqual(roomsA, [a.id]), `A rooms after unsubscribe ${describe(roomsA)}`);
          // Leaving one's own room is refused.
          const self = await a.timeout(3000).emitWithAck("unsubscribe", [a.id]);
          assert(deepEqual(self, [a.id]), `A left its own room: ${describe(self)}`);
          const before = [ra, rb, rc].map((x) => x.count("news"));
          const res = await postOK(url, { channel: "news", payload: "after", rooms: [room1] });
          assert(res.recipients === 1, `recipients ${res.recipients}, want 1`);
          await barrier(url, [ra, rb, rc]);
          const got = [ra, rb, rc].map((x, i) => x.count("news") - before[i]);
          assert(deepEqual(got, [0, 1, 0]), `news deliveries A,B,C = ${got}, want 0,1,0`);
          const roomsB = await b.timeout(3000).emitWithAck("unsubscribe", [room1, room2]);
          assert(deepEqual(roomsB, [b.id]), `B rooms ${describe(roomsB)}`);
          const res2 = await postOK(url, { channel: "news", payload: "nobody", rooms: [room1, room2] });
          assert(res2.recipients === 0, `recipients ${res2.recipients}, want 0`);
        });
        await r.check("namespace-targeted", 10000, async () => {
          const d = await connectClient(r, url, "/custom", WS);
          const rd = new Recorder(d, events);
          const before = [ra, rb, rc].map((x) => x.count("news"));
          const res = await postOK(url, { channel: "news", payload: "custom-only", namespace: "/custom" });
          assert(res.recipients >= 1, `recipients ${res.recipients}`);
          await barrier(url, [rd], "/custom");
          await barrier(url, [ra, rb, rc]);
          assert(rd.count("news") === 1, `/custom client got ${rd.count("news")} news`);
          const got = [ra, rb, rc].map((x, i) => x.count("news") - before[i]);
          assert(deepEqual(got, [0, 0, 0]), `"/" clients got a "/custom" event: ${got}`);
        });
      } finally {
        for (const s of [a, b, c]) s.close();
      }
    },
  },

  admin: {
    async run(r, { url }) {
      await r.check("health-and-root", 5000, async () => {
        const h = await fetch(url + "/health");
        assert(h.status === 200, `GET /health status ${h.status}`);
        const hj = await h.json();
        assert(hj.status === "healthy", `GET /health ${describe(hj)}`);
        const root = await fetch(url + "/");
        assert(root.status === 200, `GET / status ${root.status}`);
        const rj = await root.json();
        assert(rj.status === "ok" && Number.isInteger(rj.connectedClients), `GET / ${describe(rj)}`);
      });
      await r.check("errors", 10000, async () => {
        const get = await fetch(url + "/SendWebsocketEvent");
        assert(get.status === 405, `GET status ${get.status}, want 405`);
        const check = async (what, res, status) => {
          assert(res.status === status, `${what}: status ${res.status}, want ${status} (${res.text.trim()})`);
          assert(res.json && typeof res.json.error === "string" && res.json.error !== "", `${what}: body ${res.text.trim()}`);
        };
        await check("text/plain", await post(url, JSON.stringify({ channel: "x", payload: 1 }), { "content-type": "text/plain" }), 415);
        await check("malformed JSON", await post(url, "{\"channel\":"), 400);
        await check("not an object", await post(url, "[1,2]"), 400);
        await check("no channel/event", await post(url, { payload: 1 }), 400);
        await check("reserved event", await post(url, { event: "disconnect", data: 1 }), 400);
        await check("oversized", await rawPost(url, JSON.stringify({ channel: "x", payload: "a".repeat(ADMIN_OVERSIZED_BODY) })), 413);
        // The server still works after the refusals.
        await postOK(url, { channel: "news", payload: "ok" });
      });
      // ADMIN_URL: the server's separate admin listener, when it has one. A POST there reaches
      // the clients of the client port exactly like a POST on the client port itself.
      const adminURL = process.env.ADMIN_URL;
      if (adminURL) {
        await r.check("admin-port", 10000, async () => {
          const s = await connectClient(r, url, "/", WS);
          const rec = new Recorder(s, ["news", "broadcast"]);
          await postOK(adminURL, { channel: "news", payload: { via: "admin port" } });
          await postOK(url, { event: "broadcast", data: { via: "client port" } });
          await rec.wait("news", 1, 5000);
          await rec.wait("broadcast", 1, 5000);
          assert(deepEqual(rec.got.news[0], [{ payload: { via: "admin port" } }]), `news ${describe(rec.got.news[0])}`);
          assert(deepEqual(rec.got.broadcast[0], [{ via: "client port" }]), `broadcast ${describe(rec.got.broadcast[0])}`);
          const h = await fetch(adminURL + "/health");
          assert(h.status === 200, `GET ${adminURL}/health status ${h.status}`);
        });
      }
    },
  },

  many: {
    async run(r, { url }) {
      const N = Number(process.env.SIO_MANY_CLIENTS || 1000);
      const sockets = [];
      try {
        await manyChecks(r, url, N, sockets);
      } finally {
        sockets.forEach((s) => s.close());
      }
    },
  },

  auth: {
    standalone: !!JWT_SECRET,
    async run(r, { url }) {
      if (!JWT_SECRET) throw new Error("the auth scenario needs JWT_SECRET (the server's secret) in the environment");
      const refused = async (what, auth, nsp) => {
        const s = client(r, url, nsp || "/", Object.assign({ auth }, WS));
        const [err] = await once(s, "connect_error", 8000, ["connect"]);
        assert(err.message === "unauthorized", `${what}: connect_error message ${describe(err.message)}, want "unauthorized"`);
        assert(err.data && typeof err.data.reason === "string" && err.data.reason !== "", `${what}: err.data ${describe(err.data)}, want {reason: "..."}`);
      };
      await r.check("valid-token", 10000, async () => {
        const s = await connectClient(r, url, "/", Object.assign({ auth: { token: token({ sub: "alice" }) } }, WS));
        await echo(s, ["authed"]);
        const p = await connectClient(r, url, "/", Object.assign({ auth: { token: token({ sub: "bob" }) } }, POLLING));
        await echo(p, ["authed polling"]);
      });
      await r.check("missing-token", 10000, () => refused("no auth", {}));
      await r.check("garbage-token", 10000, () => refused("garbage", { token: "not.a.jwt" }));
      await r.check("wrong-secret", 10000, () =>
        refused("wrong secret", { token: signJWT({ sub: "eve", exp: nowSec() + 600 }, JWT_SECRET + "x") })
      );
      await r.check("expired", 10000, () =>
        refused("expired", { token: signJWT({ sub: "old", exp: nowSec() - 3600 }, JWT_SECRET) })
      );
      await r.check("not-hs256", 10000, () =>
        refused("HS512", { token: signJWT({ sub: "alg", exp: nowSec() + 600 }, JWT_SECRET, "HS512") })
      );
      await r.check("custom-namespace-refused", 10000, () => refused("/custom without token", {}, "/custom"));
      await r.check("custom-namespace-accepted", 10000, async () => {
        const s = await connectClient(r, url, "/custom", Object.assign({ auth: { token: token() } }, WS));
        await echo(s, ["custom authed"]);
      });
      await r.check("channels-claim-limits-subscribe", 10000, async () => {
        const s = await connectClient(r, url, "/", Object.assign({ auth: { token: token({ sub: "carol", channels: ["news", "org-*"] }) } }, WS));
        const rooms = await s.timeout(3000).emitWithAck("subscribe", ["news", "sports", "org-a", "org", "user:dave"]);
        // The user room (user:<sub>) is among the rooms; another user's cannot be subscribed to.
        const want = [s.id, "user:carol", "news", "org-a"];
        assert(deepEqual([...rooms].sort(), [...want].sort()), `rooms ${describe(rooms)}, want ${describe(want)}`);
        const all = await connectClient(r, url, "/", Object.assign({ auth: { token: token({ sub: "dave" }) } }, WS));
        const rooms2 = await all.timeout(3000).emitWithAck("subscribe", ["news", "sports"]);
        assert(rooms2.includes("sports"), `without a channels claim every channel is allowed: ${describe(rooms2)}`);
      });
    },
  },

  // users needs a server with JWT_SECRET and MAX_USER_CONNECTIONS (its value in this process's
  // environment), and ADMIN_URL for /metrics: the sockets of one user up to the limit, one more
  // refused with the limit named, the others unharmed, a POST with "user" reaching that user's
  // sockets only, user rooms closed to subscribe, and a slot freed by a disconnect.
  users: {
    standalone: false,
    async run(r, { url }) {
      const max = Number(process.env.MAX_USER_CONNECTIONS || 0);
      if (!JWT_SECRET || !(max > 1)) throw new Error("the users scenario needs JWT_SECRET and MAX_USER_CONNECTIONS > 1");
      const user = "u-" + rand();
      const as = (sub, topts) => Object.assign({ auth: { token: token({ sub }) } }, topts);
      const limitMsg = `too many connections for this user: MAX_USER_CONNECTIONS (${max})`;
      const refused = async (s, what) => {
        const [err] = await once(s, "connect_error", 8000, ["connect"]);
        assert(err.message === limitMsg, `${what}: connect_error ${describe(err.message)}, want ${describe(limitMsg)}`);
        assert(err.data && err.data.limit === "MAX_USER_CONNECTIONS" && err.data.max === max, `${what}: err.data ${describe(err.data)}`);
      };
      const mine = [];
      let other, recs, otherRec;
      try {
        const ok = await r.check("at-the-limit-accepted", 15000, async () => {
          // Both transports, and a second namespace: the bound is per user across namespaces.
          for (let i = 0; i < max; i++) {
            const nsp = i === max - 1 ? "/custom" : "/";
            mine.push(await connected(client(null, url, nsp, as(user, i % 2 ? POLLING : WS))));
          }
          other = await connected(client(null, url, "/", as("other-" + user, WS)));
          recs = mine.map((s) => new Recorder(s, ["for-user", "sentinel"]));
          otherRec = new Recorder(other, ["for-user", "sentinel"]);
        });
        if (!ok) return;
        await r.check("one-more-refused", 10000, async () => {
          await refused(client(r, url, "/", as(user, WS)), "websocket on /");
          await refused(client(r, url, "/custom", as(user, POLLING)), "polling on /custom");
        });
        await r.check("others-unharmed", 10000, async () => {
          for (const s of mine.concat([other])) {
            assert(s.connected, `socket ${s.id} lost its connection`);
            await echo(s, ["still here"]);
          }
          const admin = process.env.ADMIN_URL;
          if (admin) {
            const text = await (await fetch(admin + "/metrics")).text();
            const m = /sioloop_connection_refusals_total\{reason="max_user_connections"\} (\d+)/.exec(text);
            assert(m && Number(m[1]) >= 2, `/metrics: ${m ? m[0] : "no max_user_connections refusals"}`);
          }
        });
        await r.check("post-to-user", 10000, async () => {
          const res = await postOK(url, { event: "for-user", data: { user }, user });
          assert(res.recipients === max - 1, `recipients ${res.recipients}, want ${max - 1} (the user's sockets on /)`);
          await postOK(url, { event: "for-user", data: { user }, user, namespace: "/custom" });
          await barrier(url, recs.slice(0, max - 1).concat([otherRec]));
          await barrier(url, [recs[max - 1]], "/custom");
          for (const rec of recs) assert(deepEqual(rec.got["for-user"], [[{ user }]]), `user socket got ${describe(rec.got["for-user"])}`);
          assert(otherRec.count("for-user") === 0, `the other user got ${describe(otherRec.got["for-user"])}`);
        });
        await r.check("user-room-reserved", 10000, async () => {
          const rooms = await other.timeout(3000).emitWithAck("subscribe", ["user:" + user, "news"]);
          const want = [other.id, "user:other-" + user, "news"];
          assert(deepEqual(rooms, want), `subscribe ack ${describe(rooms)}, want ${describe(want)}`);
          const left = await other.timeout(3000).emitWithAck("unsubscribe", ["user:other-" + user]);
          assert(deepEqual(left, want), `unsubscribe of the own user room: ${describe(left)}, want ${describe(want)}`);
          await postOK(url, { event: "for-user", data: 2, user });
          await barrier(url, [otherRec]);
          assert(otherRec.count("for-user") === 0, `the other user got ${describe(otherRec.got["for-user"])}`);
        });
        await r.check("slot-freed-by-disconnect", 10000, async () => {
          mine.shift().disconnect();
          // The server sees the DISCONNECT a moment later: retry while it still refuses.
          for (let tries = 0; ; tries++) {
            const s = client(r, url, "/", as(user, WS));
            const err = await withTimeout(
              new Promise((resolve) => {
                s.once("connect", () => resolve(null));
                s.once("connect_error", resolve);
              }),
              8000,
              "CONNECT answer"
            );
            if (err === null) {
              await echo(s, ["back in"]);
              return;
            }
            s.close();
            assert(err.message === limitMsg && tries < 40, `after a disconnect: ${describe(err.message)} (${tries + 1} tries)`);
            await sleep(50);
          }
        });
      } finally {
        for (const s of mine.concat(other ? [other] : [])) s.close();
      }
    },
  },

  // cluster-users needs JWT_SECRET, two sioloop servers sharing a Redis (url and SECOND_URL),
  // optionally a Node socket.io server on it too (NODE_URL), and url's admin listener (ADMIN_URL):
  // a user with sockets on every server is counted cluster-wide and reached by one POST to
  // either sioloop server; another user's socket is not.
  "cluster-users": {
    standalone: false,
    async run(r, { url }) {
      const second = process.env.SECOND_URL;
      const node = process.env.NODE_URL;
      const admin = process.env.ADMIN_URL;
      if (!JWT_SECRET || !second || !admin) throw new Error("cluster-users needs JWT_SECRET, SECOND_URL and ADMIN_URL");
      const user = "42-" + rand();
      const as = (sub, topts) => Object.assign({ auth: { token: token({ sub }) } }, topts);
      const socks = [];
      let mine, other;
      try {
        const ok = await r.check("three-sockets-on-two-replicas", 15000, async () => {
          mine = [
            await connected(client(null, url, "/", as(user, WS))),
            await connected(client(null, url, "/", as(user, POLLING))),
            await connected(client(null, second, "/", as(user, WS))),
          ];
          if (node) mine.push(await connected(client(null, node, "/", as(user, WS))));
          other = await connected(client(null, second, "/", as("7-" + user, WS)));
          socks.push(...mine, other);
        });
        if (!ok) return;
        const recs = mine.map((s) => new Recorder(s, ["hello", "sentinel"]));
        const otherRec = new Recorder(other, ["hello", "sentinel"]);
        await r.check("counted-cluster-wide", 15000, async () => {
          const servers = node ? 3 : 2;
          for (let start = Date.now(); ; await sleep(50)) {
            const res = await (await fetch(`${admin}/sockets?user=${encodeURIComponent(user)}&count=true`)).json();
            if (res.count === mine.length && res.complete && res.servers === servers) return;
            assert(Date.now() - start < 10000, `GET /sockets?user=…&count=true: ${describe(res)}, want count ${mine.length} from ${servers} servers`);
          }
        });
        for (const [name, base] of [["first", url], ["second", second]]) {
          await r.check(`one-post-to-the-${name}-reaches-all`, 15000, async () => {
            const tag = rand();
            const res = await postOK(base, { event: "hello", data: { tag }, user });
            assert(res.status === "success", describe(res));
            // The sentinel goes through the same server: it follows the hello everywhere.
            await barrier(base, recs.concat([otherRec]));
            for (let i = 0; i < recs.length; i++) {
              const got = recs[i].got.hello.filter((a) => a[0] && a[0].tag === tag);
              assert(got.length === 1, `socket ${i} of the user got ${got.length} hello ${tag}`);
            }
            assert(otherRec.count("hello") === 0, `the other user got ${describe(otherRec.got.hello)}`);
          });
        }
      } finally {
        for (const s of socks) s.close();
      }
    },
  },

  // tokens needs a server with JWT_JWKS_URL on the test's issuer, whose base URL is TOKEN_URL
  // (GET /token?sub=&ttl=, POST /rotate): a token expiring mid-connection without and with a
  // refresh, and a key rotation picked up without a restart.
  tokens: {
    standalone: false,
    async run(r, { url }) {
      const base = process.env.TOKEN_URL;
      if (!base) throw new Error("the tokens scenario needs TOKEN_URL (the test's token issuer)");
      const getToken = async (sub, ttl, key) => {
        const res = await fetch(`${base}/token?sub=${encodeURIComponent(sub)}&ttl=${ttl}` + (key ? `&key=${key}` : ""));
        assert(res.status === 200, `GET /token: ${res.status}`);
        return (await res.json()).token;
      };
      await r.check("expires-without-refresh", 15000, async () => {
        const token = await getToken("alice", 2);
        const s = client(r, url, "/", Object.assign({ auth: { token } }, WS));
        await connected(s);
        await echo(s, ["before exp"]);
        // As in the README: remember the event, reconnect on the disconnect that follows.
        const expired = once(s, "token_expired", 6000);
        const gone = once(s, "disconnect", 6000);
        const [info] = await expired;
        assert(info && info.reason === "token expired", `token_expired ${describe(info)}`);
        const [reason] = await gone;
        assert(reason === "io server disconnect", `disconnect reason ${describe(reason)}, want "io server disconnect"`);
        // The README's reconnect: a fresh token from the auth function, then connect().
        s.auth = (cb) => getToken("alice", 60).then((t) => cb({ token: t }));
        s.connect();
        await connected(s);
        await echo(s, ["after reconnect"]);
      });
      await r.check("refresh-keeps-the-socket", 15000, async () => {
        const s = client(r, url, "/", Object.assign({ auth: { token: await getToken("bob", 2) } }, WS));
        await connected(s);
        let expired = false;
        s.on("token_expired", () => (expired = true));
        const ack = await s.timeout(5000).emitWithAck("refresh", { token: await getToken("bob", 60) });
        assert(ack && typeof ack.exp === "number" && ack.exp > nowSec() + 30, `refresh ack ${describe(ack)}`);
        const other = await s.timeout(5000).emitWithAck("refresh", { token: await getToken("mallory", 60) });
        assert(other && typeof other.error === "string", `refresh with another sub: ack ${describe(other)}, want {error}`);
        await sleep(3500); // past the first token's exp
        assert(s.connected && !expired, `connected ${s.connected}, token_expired ${expired}`);
        await echo(s, ["past the first exp"]);
      });
      await r.check("jwks-rotation", 25000, async () => {
        const old = client(r, url, "/", Object.assign({ auth: { token: await getToken("carol", 60) } }, WS));
        await connected(old);
        const res = await fetch(`${base}/rotate`, { method: "POST" });
        assert(res.status === 200, `POST /rotate: ${res.status}`);
        const { kid } = await res.json();
        // The server fetches the set again for an unknown kid at most once per 10 s: wait
        // until the last fetch (at its start) is that old.
        const since = (await (await fetch(`${base}/since-fetch`)).json()).ms;
        if (since < 10500) await sleep(10500 - since);
        // The new kid is not in the server's key set yet: the CONNECT waits for a fetch.
        const s = client(r, url, "/", Object.assign({ auth: { token: await getToken("dave", 60) } }, POLLING));
        await connected(s);
        await echo(s, ["signed by " + kid]);
        // The old key is still in the set: its tokens still connect.
        const again = client(r, url, "/", Object.assign({ auth: { token: await getToken("carol", 60, "first") } }, WS));
        await connected(again);
        await echo(old, ["old socket unharmed"]);
      });
    },
  },

  // recovery needs a server with connection state recovery on (CONNECTION_STATE_RECOVERY, the
  // window in RECOVERY_WINDOW_MS here); recovery-off checks the default server adds nothing.
  recovery: {
    standalone: false,
    async run(r, { url }) {
      const windowMs = Number(process.env.RECOVERY_WINDOW_MS || 0);
      if (!(windowMs > 0)) throw new Error("the recovery scenario needs RECOVERY_WINDOW_MS (the server's window)");
      for (const [name, topts] of [["websocket", WS], ["polling", POLLING]]) {
        await r.check(`recovers-${name}`, 20000, () => recoveryChecks(r, url, topts, windowMs, false));
        await r.check(`past-the-window-${name}`, 20000, () => recoveryChecks(r, url, topts, windowMs, true));
      }
    },
  },

  "recovery-off": {
    async run(r, { url }) {
      for (const [name, topts] of [["websocket", WS], ["polling", POLLING]]) {
        await r.check(`no-offset-${name}`, 10000, async () => {
          const s = await connectClient(r, url, "/", topts);
          const rec = new Recorder(s, ["push", "sentinel"]);
          await postOK(url, { event: "push", data: { n: 1 }, to: s.id });
          await barrier(url, [rec]);
          assert(deepEqual(rec.got.push, [[{ n: 1 }]]), `push args ${describe(rec.got.push)}, want exactly [{n:1}]`);
          assert(rec.got.sentinel.every((a) => a.length === 1), `sentinel args ${describe(rec.got.sentinel)}`);
          assert(s.recovered === false || s.recovered === undefined, `recovered ${describe(s.recovered)}`);
        });
      }
    },
  },

  reconnect: {
    standalone: false,
    async run(r, { url }) {
      const sockets = [];
      try {
        await reconnectChecks(r, url, sockets);
      } finally {
        sockets.forEach((s) => s.close());
      }
    },
  },
};

// recoveryChecks subscribes a client to a channel, lets it receive pushes, breaks its transport
// from the client side, posts pushes meanwhile (to its channel, to another, to its socket id,
// to everyone) and reconnects it: within the window it must come back with the same id,
// recovered, every missed push for it once and in order, and its channel; past the window
// (late) with a new id and recovered false.
async function recoveryChecks(r, url, topts, windowMs, late) {
  const room = "csr-" + rand();
  const other = "csr-" + rand();
  const s = client(r, url, "/", Object.assign({}, topts));
  const got = [];
  s.on("push", (d, ...rest) => got.push(d.n));
  await connected(s);
  const id = s.id;
  const rooms = await s.timeout(3000).emitWithAck("subscribe", [room]);
  assert(rooms.includes(room), `subscribe ack ${describe(rooms)}`);
  await postOK(url, { event: "push", data: { n: 1 }, rooms: [room] });
  await postOK(url, { event: "push", data: { n: 2 }, to: id });
  const start = Date.now();
  while (got.length < 2) {
    if (Date.now() - start > 5000) throw new Error(`before the break: got ${describe(got)}`);
    await sleep(5);
  }
  const down = once(s, "disconnect", 5000);
  s.io.engine.close();
  await down;
  await postOK(url, { event: "push", data: { n: 3 }, rooms: [room] });
  await postOK(url, { event: "push", data: { n: 100 }, rooms: [other] });
  await postOK(url, { event: "push", data: { n: 4 }, to: id });
  await postOK(url, { event: "push", data: { n: 5 } });
  await postOK(url, { event: "push", data: { n: 6 }, rooms: [room] });
  // The server must have seen the transport close before the session can be restored.
  await sleep(late ? windowMs + 500 : 200);
  s.connect();
  await connected(s);
  if (late) {
    assert(s.recovered === false, `past the window: recovered ${describe(s.recovered)}`);
    assert(s.id !== id, `past the window: same id ${id}`);
    return;
  }
  assert(s.recovered === true, `recovered ${describe(s.recovered)}`);
  assert(s.id === id, `id ${s.id}, want ${id}`);
  const rec = new Recorder(s, ["sentinel"]);
  await postOK(url, { event: "push", data: { n: 7 }, rooms: [room] });
  await barrier(url, [rec]);
  assert(deepEqual(got, [1, 2, 3, 4, 5, 6, 7]), `pushes ${describe(got)}, want 1..7 once each, in order`);
}

// reconnectChecks connects clients of every transport kind into sockets, asks for a server
// restart and checks that each reconnects with a new id and echoes again.
async function reconnectChecks(r, url, sockets) {
  const opts = {
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 5000,
  };
  const kinds = [
    ["websocket", Object.assign({}, opts, WS)],
    ["polling", Object.assign({}, opts, POLLING)],
    ["default", Object.assign({}, opts)],
  ];
  let before = [];
  const phase1 = await r.check("before-restart", 10000, async () => {
    for (const [, o] of kinds) sockets.push(client(null, url, "/", o));
    await Promise.all(sockets.map((s) => connected(s)));
    for (const s of sockets) await echo(s, ["before"]);
    before = sockets.map((s) => s.id);
  });
  if (!phase1) return;
  await r.check("reconnect-after-restart", 45000, async () => {
    const reasons = [];
    const back = sockets.map((s, i) =>
      new Promise((resolve, reject) => {
        s.once("disconnect", (reason) => {
          reasons[i] = reason;
          if (reason === "io server disconnect" || reason === "io client disconnect") {
            return reject(new Error(`${kinds[i][0]}: disconnect reason ${describe(reason)} stops the reconnection`));
          }
          s.once("connect", resolve);
        });
      })
    );
    console.log(RESTART_MARKER);
    await withTimeout(Promise.all(back), 40000, "reconnection");
    for (let i = 0; i < sockets.length; i++) {
      const s = sockets[i];
      assert(s.id && s.id !== before[i], `${kinds[i][0]}: socket id ${s.id} not renewed`);
      await echo(s, ["after", i]);
    }
    console.log(`     disconnect reasons: ${reasons.join(", ")}`);
  });
}

main("sio", scenarios, 240);
