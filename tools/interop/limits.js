#!/usr/bin/env node
// The limits of issue 17, run with the official socket.io-client against a sioloop started with
// one limit set: at the limit the clients are served; one past it they get the documented
// refusal, as socket.io-client reports it; the clients already connected keep working.
//
// usage: node limits.js [--url http://127.0.0.1:3000] [--timeout seconds] scenario
// Each scenario needs its server's setting, read here from the same variable:
//   connections   MAX_CONNECTIONS=3
//   per-ip        MAX_CONNECTIONS_PER_IP=2 TRUSTED_PROXIES=127.0.0.0/8
//   connect-rate  CONNECT_RATE=0.5 CONNECT_BURST=3
//   rooms         MAX_ROOMS_PER_SOCKET=3
//   events        MAX_EVENTS_PER_SECOND=5 EVENT_BURST=5
// The server's readiness must not be probed with a handshake (it would take a slot): use /health.
//
// What socket.io-client 4.8 shows for a refused handshake (connect_error):
//   polling:   err.message "xhr poll error", err.description the HTTP status (a number),
//              err.context the XMLHttpRequest: .status, and, only while the connect_error
//              listeners run (the client aborts the request right after them, which empties
//              it), .responseText (the JSON body {"code":4,"message":"… LIMIT (N) …"}) and
//              .getResponseHeader(name);
//   websocket: err.message "websocket error", err.description an Error whose message is
//              "Unexpected server response: <status>" (no body).
"use strict";

const { io } = require("socket.io-client");
const { assert, deepEqual, describe, main, once, sleep } = require("./lib");

const PATH = "/socket.io/";
const WS = { transports: ["websocket"] };
const POLLING = { transports: ["polling"], upgrade: false };

function setting(name) {
  const v = Number(process.env[name]);
  if (!(v > 0)) throw new Error(`this scenario needs ${name} (the server's setting) in the environment`);
  return v;
}

// client makes a socket with forceNew and, unless opts say otherwise, no reconnection; close
// it yourself, or pass r to close it after the current check.
function client(r, url, opts) {
  const s = io(url + "/", Object.assign({ path: PATH, forceNew: true, reconnection: false, timeout: 10000 }, opts || {}));
  if (r) r.defer(() => s.close());
  return s;
}

async function connected(s) {
  if (!s.connected) await once(s, "connect", 10000, ["connect_error"]);
  return s;
}

// refused waits for the connect_error of s and returns it; a connect fails the check. What the
// XMLHttpRequest of a polling error holds is copied to err.seen in the listener itself: the
// client empties the request once its listeners have returned.
async function refused(s) {
  s.once("connect_error", (err) => {
    const x = err.context;
    if (x && typeof x.getResponseHeader === "function") {
      err.seen = { status: x.status, text: x.responseText, retryAfter: x.getResponseHeader("retry-after") };
    }
  });
  const [err] = await once(s, "connect_error", 10000, ["connect"]);
  return err;
}

async function echo(s, tag) {
  const got = await s.timeout(5000).emitWithAck("message", tag);
  assert(deepEqual(got, tag), `echo ack ${describe(got)}, want ${describe(tag)}`);
}

async function allEcho(sockets, tag) {
  await Promise.all(sockets.map((s, i) => echo(s, `${tag}-${i}`)));
}

// expectRefusal checks what socket.io-client shows for a handshake refused with status: on
// polling the status and the JSON body naming the limit (want, a substring of its message).
function expectRefusal(err, transport, status, want) {
  if (transport === "polling") {
    assert(err.message === "xhr poll error", `err.message ${describe(err.message)}, want "xhr poll error"`);
    assert(err.description === status, `err.description ${describe(err.description)}, want ${status}`);
    const xhr = err.seen;
    assert(xhr && xhr.status === status, `err.context.status ${xhr && xhr.status}, want ${status}`);
    let body;
    try {
      body = JSON.parse(xhr.text);
    } catch (_) {
      body = undefined;
    }
    assert(body && body.code === 4 && typeof body.message === "string" && body.message.includes(want),
      `err.context.responseText ${describe(xhr.text)}, want {"code":4,"message":"…${want}…"}`);
    return xhr;
  }
  assert(err.message === "websocket error", `err.message ${describe(err.message)}, want "websocket error"`);
  const d = err.description && err.description.message;
  assert(d === `Unexpected server response: ${status}`, `err.description.message ${describe(d)}, want "Unexpected server response: ${status}"`);
  return null;
}

// metric returns the value of one sample of GET /metrics (the client port serves it), 0 when
// the sample is absent.
async function metric(url, sample) {
  const text = await (await fetch(url + "/metrics")).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

// closeAll closes sockets after a scenario, whatever happened.
function closeAll(sockets) {
  for (const s of sockets) s.close();
}

const scenarios = {
  connections: {
    standalone: false,
    async run(r, { url }) {
      const n = setting("MAX_CONNECTIONS");
      const want = `MAX_CONNECTIONS (${n})`;
      const held = [];
      try {
        await r.check("at-the-limit", 10000, async () => {
          for (let i = 0; i < n; i++) held.push(client(null, url, i % 2 ? POLLING : WS));
          await Promise.all(held.map(connected));
          await allEcho(held, "in");
        });
        await r.check("one-past-polling-503", 10000, async () => {
          expectRefusal(await refused(client(r, url, POLLING)), "polling", 503, want);
        });
        await r.check("one-past-websocket-503", 10000, async () => {
          expectRefusal(await refused(client(r, url, WS)), "websocket", 503, want);
        });
        await r.check("others-unharmed", 10000, async () => {
          await allEcho(held, "still");
          const c = await metric(url, 'sioloop_connection_refusals_total{reason="max_connections"}');
          assert(c >= 2, `max_connections refusals ${c}, want >= 2`);
        });
        await r.check("slot-freed", 10000, async () => {
          held.shift().close();
          // The server frees the slot when it sees the close: retry for a moment.
          for (let i = 0; ; i++) {
            const s = client(null, url, WS);
            const ok = await Promise.race([once(s, "connect", 5000).then(() => true), once(s, "connect_error", 5000).then(() => false)]);
            if (ok) {
              held.push(s);
              break;
            }
            s.close();
            assert(i < 20, "no slot after a client left");
            await sleep(50);
          }
          await allEcho(held, "after");
        });
      } finally {
        closeAll(held);
      }
    },
  },

  "per-ip": {
    standalone: false,
    async run(r, { url }) {
      const n = setting("MAX_CONNECTIONS_PER_IP");
      const want = `MAX_CONNECTIONS_PER_IP (${n})`;
      // The server trusts 127.0.0.0/8 as a proxy: X-Forwarded-For names the client.
      const from = (ip, t) => Object.assign({ extraHeaders: { "X-Forwarded-For": ip } }, t);
      const held = [];
      try {
        await r.check("at-the-limit", 10000, async () => {
          for (let i = 0; i < n; i++) held.push(client(null, url, from("203.0.113.7", i % 2 ? POLLING : WS)));
          await Promise.all(held.map(connected));
          await allEcho(held, "in");
        });
        await r.check("one-past-polling-429", 10000, async () => {
          expectRefusal(await refused(client(r, url, from("203.0.113.7", POLLING))), "polling", 429, want);
        });
        await r.check("one-past-websocket-429", 10000, async () => {
          expectRefusal(await refused(client(r, url, from("10.1.2.3, 203.0.113.7", WS))), "websocket", 429, want);
        });
        await r.check("other-addresses-served", 10000, async () => {
          const other = await connected(client(r, url, from("203.0.113.8", WS)));
          const proxy = await connected(client(r, url, POLLING)); // no header: 127.0.0.1 itself
          await allEcho([other, proxy], "other");
          await allEcho(held, "still");
          const c = await metric(url, 'sioloop_connection_refusals_total{reason="max_connections_per_ip"}');
          assert(c >= 2, `max_connections_per_ip refusals ${c}, want >= 2`);
        });
      } finally {
        closeAll(held);
      }
    },
  },

  "connect-rate": {
    standalone: false,
    async run(r, { url }) {
      const rate = setting("CONNECT_RATE");
      const burst = setting("CONNECT_BURST");
      const want = `CONNECT_RATE (${rate}/s, CONNECT_BURST ${burst})`;
      const held = [];
      try {
        await r.check("the-burst", 10000, async () => {
          for (let i = 0; i < burst; i++) held.push(client(null, url, i % 2 ? POLLING : WS));
          await Promise.all(held.map(connected));
        });
        // The bucket is empty now, and refills one token every 1/rate seconds.
        await r.check("one-past-polling-503-retry-after", 10000, async () => {
          const xhr = expectRefusal(await refused(client(r, url, POLLING)), "polling", 503, want);
          const ra = xhr.retryAfter;
          assert(ra === "1", `Retry-After ${describe(ra)}, want "1"`);
        });
        await r.check("one-past-websocket-503", 10000, async () => {
          expectRefusal(await refused(client(r, url, WS)), "websocket", 503, want);
        });
        await r.check("backoff-gets-in", 15000, async () => {
          const s = client(r, url, { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 1000, randomizationFactor: 0 });
          let errors = 0;
          s.on("connect_error", () => errors++);
          await once(s, "connect", 12000);
          assert(errors >= 1, "connected at the first try: the bucket was not empty");
          console.log(`     connected after ${errors} refused attempt(s)`);
          await echo(s, "in at last");
          await allEcho(held, "still");
          const c = await metric(url, 'sioloop_connection_refusals_total{reason="connect_rate"}');
          assert(c >= 3, `connect_rate refusals ${c}, want >= 3`);
        });
      } finally {
        closeAll(held);
      }
    },
  },

  rooms: {
    standalone: false,
    async run(r, { url }) {
      const n = setting("MAX_ROOMS_PER_SOCKET");
      const names = Array.from({ length: n }, (_, i) => `room-${i}`);
      let s, other;
      await r.check("at-the-limit", 10000, async () => {
        [s, other] = await Promise.all([connected(client(r, url, WS)), connected(client(r, url, POLLING))]);
        const rooms = await s.timeout(3000).emitWithAck("subscribe", names);
        assert(deepEqual(rooms, [s.id, ...names]), `rooms ${describe(rooms)}`);
        // Joined channels do not count twice.
        const again = await s.timeout(3000).emitWithAck("subscribe", names[0]);
        assert(deepEqual(again, [s.id, ...names]), `subscribe to a joined channel: ${describe(again)}`);
        // One past it: refused as a whole, nothing joined.
        const res = await s.timeout(3000).emitWithAck("subscribe", ["extra", names[1]]);
        assert(res && typeof res.error === "string" && res.error.includes(`MAX_ROOMS_PER_SOCKET (${n})`),
          `subscribe past the limit acked ${describe(res)}, want {error:"…MAX_ROOMS_PER_SOCKET (${n})…"}`);
        assert(deepEqual(res.rooms, [s.id, ...names]), `rooms after the refusal ${describe(res.rooms)}`);
        console.log(`     refusal: ${describe(res)}`);
        await allEcho([s, other], "still");
        const c = await metric(url, 'sioloop_subscribe_refused_total{reason="room_limit"}');
        assert(c >= 1, `room_limit refusals ${c}, want >= 1`);
      });
    },
  },

  events: {
    standalone: false,
    async run(r, { url }) {
      const rate = setting("MAX_EVENTS_PER_SECOND");
      const burst = setting("EVENT_BURST");
      const error = `event refused: over MAX_EVENTS_PER_SECOND (${rate}/s, EVENT_BURST ${burst})`;
      for (const [name, topts] of [["websocket", WS], ["polling", POLLING]]) {
        let s, other;
        await r.check(`${name}-at-the-limit-then-refused`, 10000, async () => {
          [s, other] = await Promise.all([connected(client(null, url, topts)), connected(client(null, url, WS))]);
          // burst + 1 at once: the burst is served, the next one acked with the error.
          const got = await Promise.all(Array.from({ length: burst + 1 }, (_, i) => s.timeout(3000).emitWithAck("message", i)));
          const want = [...Array.from({ length: burst }, (_, i) => i), { error }];
          assert(deepEqual(got, want), `acks ${describe(got)}, want ${describe(want)}`);
          console.log(`     refusal: ${describe(got[burst])}`);
        });
        await r.check(`${name}-slower-gets-in-again`, 10000, async () => {
          await sleep(Math.ceil((2 * 1000) / rate) + 300); // the debt of one paid, one token more
          await echo(s, "again");
        });
        await r.check(`${name}-flood-disconnects`, 10000, async () => {
          const down = once(s, "disconnect", 5000);
          for (let i = 0; i < 4 * burst + 10; i++) s.emit("message", i);
          const [reason] = await down;
          assert(reason === "io server disconnect", `disconnect reason ${describe(reason)}, want "io server disconnect"`);
          await sleep(300);
          assert(!s.connected && !s.active, "the flooder reconnected");
          await echo(other, "unharmed");
          const refusedN = await metric(url, 'sioloop_events_refused_total{reason="rate"}');
          const floods = await metric(url, 'sioloop_connection_refusals_total{reason="event_flood"}');
          assert(refusedN >= 1 + burst && floods >= 1, `events refused ${refusedN}, floods ${floods}`);
        });
        for (const x of [s, other]) if (x) x.close();
      }
    },
  },
};

main("limits", scenarios, 60);
