#!/usr/bin/env node
// Sentinel failover as official socket.io-client 4.8 clients see it. CLIENTS clients connect to
// each sioloop replica (REDIS_SENTINEL_ADDRS) and subscribe to one room; the script POSTs a
// numbered broadcast to that room every 100 ms, alternately to each replica, and records when
// each client receives each one. After BEFORE_MS of steady broadcasts it prints
// "@@KILL_MASTER@@" and waits for "killed <unix ms>" on stdin: the driver (failover_test.go)
// has killed the Sentinel master. It goes on broadcasting until delivery has been back for
// HOLD broadcasts in a row (or FAILOVER_MAX_MS after the kill), lets the last ones arrive, and
// prints one line "@@RESULT@@ {json}" (see result()) that the driver judges.
//
// usage: FAILOVER_SERVERS=http://127.0.0.1:A,http://127.0.0.1:B FAILOVER_ADMIN_TOKEN=… \
//        [FAILOVER_CLIENTS=20] [FAILOVER_MAX_MS=20000] node failover.js [--timeout seconds]
"use strict";

const { Client, assert, describe, main, sleep, stdinLines } = require("./lib");

const SERVERS = (process.env.FAILOVER_SERVERS || "").split(",").filter(Boolean);
const CLIENTS = Number(process.env.FAILOVER_CLIENTS || 20);
const MAX_MS = Number(process.env.FAILOVER_MAX_MS || 20000);
const ADMIN = process.env.FAILOVER_ADMIN_TOKEN ? { Authorization: "Bearer " + process.env.FAILOVER_ADMIN_TOKEN } : {};
const ROOM = "ticks";
const INTERVAL_MS = 100;
const BEFORE_MS = 2000;
// PROMPT_MS: a broadcast that reaches every client within this long of its POST was delivered
// as usual; later ones waited out the failover (promptMillis in failover_test.go).
const PROMPT_MS = 1000;
// HOLD: promptly delivered broadcasts in a row after the kill that show delivery is back
// (holdPosts in failover_test.go).
const HOLD = 20;
const DRAIN_MS = 3000;
const KILL_MARKER = "@@KILL_MASTER@@";
const RESULT_MARKER = "@@RESULT@@";

const waitLine = stdinLines();

// Post is one numbered broadcast: when it was posted, how its POST answered, and when each
// client received it (arrivals: client index → receipt times).
class Post {
  constructor(n, server) {
    this.n = n;
    this.server = server;
    this.postedAt = Date.now();
    this.status = 0;
    this.error = "";
    this.arrivals = new Map();
  }

  // send POSTs the broadcast without waiting: a POST held up by the failover must not hold up
  // the steady stream.
  send(url) {
    fetch(url + "/SendWebsocketEvent", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...ADMIN },
      body: JSON.stringify({ rooms: ROOM, event: "tick", data: { n: this.n, server: this.server } }),
      signal: AbortSignal.timeout(10000),
    }).then(
      (res) => {
        this.status = res.status;
        return res.text();
      },
      (e) => (this.error = e.message)
    );
  }

  receivedBy(ci, at) {
    const list = this.arrivals.get(ci) || [];
    list.push(at);
    this.arrivals.set(ci, list);
  }

  // delay returns the longest time from the POST to a client's first receipt, or -1 when a
  // client of total has not received it.
  delay(total) {
    if (this.arrivals.size < total) return -1;
    let max = 0;
    for (const list of this.arrivals.values()) max = Math.max(max, list[0] - this.postedAt);
    return max;
  }

  prompt(total) {
    const d = this.delay(total);
    return d >= 0 && d <= PROMPT_MS;
  }
}

// Stream posts one broadcast every INTERVAL_MS, alternately to each server, until stopped.
class Stream {
  constructor(clients) {
    this.clients = clients;
    this.posts = [];
    this.stopped = false;
    clients.forEach((c, ci) =>
      c.s.on("tick", (d) => {
        const p = d && this.posts[d.n];
        if (p) p.receivedBy(ci, Date.now());
      })
    );
  }

  async run() {
    while (!this.stopped) {
      const n = this.posts.length;
      const p = new Post(n, n % SERVERS.length);
      this.posts.push(p);
      p.send(SERVERS[p.server]);
      await sleep(INTERVAL_MS);
    }
  }

  // backSince reports whether the last HOLD broadcasts posted after killAt that had time to
  // arrive all reached every client promptly.
  backSince(killAt) {
    const settled = this.posts.filter((p) => p.postedAt > killAt && p.postedAt <= Date.now() - PROMPT_MS);
    const tail = settled.slice(-HOLD);
    return tail.length === HOLD && tail.every((p) => p.prompt(this.clients.length));
  }

  allArrived() {
    return this.posts.every((p) => p.arrivals.size === this.clients.length);
  }
}

// silence returns the longest time client ci received nothing from the other server: the
// failover gap as this client saw it.
function silence(posts, ci, server) {
  const times = [];
  for (const p of posts) {
    if (p.server !== server && p.arrivals.has(ci)) times.push(p.arrivals.get(ci)[0]);
  }
  times.sort((a, b) => a - b);
  let max = 0;
  for (let i = 1; i < times.length; i++) max = Math.max(max, times[i] - times[i - 1]);
  return max;
}

// result is what the driver judges, times in ms relative to the kill: every broadcast (n, the
// server it was posted to, t, the POST's status or error, how many clients got it, the
// longest delay to a client's first receipt or -1, duplicate receipts) and every client (its
// server, whether it is still connected, its disconnect reasons, its longest silence).
function result(stream, killAt) {
  const total = stream.clients.length;
  return {
    clients: stream.clients.map((c, ci) => ({
      name: c.name,
      connected: c.s.connected,
      disconnects: c.disconnects,
      silence: silence(stream.posts, ci, c.serverIndex),
    })),
    posts: stream.posts.map((p) => {
      let dups = 0;
      for (const list of p.arrivals.values()) dups += list.length - 1;
      return { n: p.n, server: p.server, t: p.postedAt - killAt, status: p.status, error: p.error, got: p.arrivals.size, delay: p.delay(total), dups };
    }),
  };
}

async function run(r) {
  assert(SERVERS.length >= 2, "set FAILOVER_SERVERS to two or more sioloop URLs");
  const clients = [];
  SERVERS.forEach((url, si) => {
    for (let i = 0; i < CLIENTS; i++) {
      const c = new Client(url, `server${si}-${i}`);
      c.serverIndex = si;
      clients.push(c);
    }
  });

  const joined = await r.check(`connect ${CLIENTS} clients to each of ${SERVERS.length} replicas and subscribe to "${ROOM}"`, 20000, async () => {
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(
      clients.map(async (c) => {
        const rooms = await c.s.timeout(5000).emitWithAck("subscribe", ROOM);
        assert(rooms.includes(ROOM), `${c.name}: subscribe ack ${describe(rooms)}`);
      })
    );
  });
  if (!joined) return;

  await r.check("steady broadcasts through a Sentinel failover", MAX_MS + BEFORE_MS + DRAIN_MS + 10000, async () => {
    const stream = new Stream(clients);
    const running = stream.run();
    await sleep(BEFORE_MS);
    console.log(KILL_MARKER);
    const line = await waitLine("killed");
    const killAt = Number(line.split(" ")[1]);
    assert(Number.isFinite(killAt), `the driver wrote ${JSON.stringify(line)}, want "killed <unix ms>"`);
    while (!stream.backSince(killAt) && Date.now() - killAt < MAX_MS) await sleep(INTERVAL_MS);
    stream.stopped = true;
    await running;
    const drainUntil = Date.now() + DRAIN_MS;
    while (!stream.allArrived() && Date.now() < drainUntil) await sleep(50);
    console.log(RESULT_MARKER + " " + JSON.stringify(result(stream, killAt)));
  });

  await r.check("no client was disconnected", 1000, async () => {
    const gone = clients.filter((c) => c.disconnects.length > 0 || !c.s.connected);
    assert(gone.length === 0, `disconnected: ${gone.map((c) => `${c.name} (${c.disconnects.join(", ")})`).join("; ")}`);
  });

  for (const c of clients) c.s.close();
}

main("failover", { failover: { run } }, 60);
