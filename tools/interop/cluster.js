#!/usr/bin/env node
// Cluster interop scenario: sioloop servers (REDIS_URL) and a Node socket.io 4.8 server with
// @socket.io/redis-adapter 8 (tools/peers/node/server.js with REDIS_URL) share one Redis, and
// @socket.io/redis-emitter 5 publishes into it. Two official socket.io-client clients connect to
// each server; every check prints one line ("ok ..." or "FAIL ...").
//
// usage: CLUSTER_SIOLOOP=http://127.0.0.1:A,http://127.0.0.1:B,http://127.0.0.1:C \
//        CLUSTER_NODE=http://127.0.0.1:D CLUSTER_REDIS=redis://127.0.0.1:E \
//        node cluster.js [--timeout seconds]
//
// The outage check needs a driver (cluster_test.go): the script prints "@@KILL_REDIS@@" and
// waits for a line "killed" on stdin; the driver kills Redis, waits 5 s, starts it again on the
// same port and writes "restarted". Meanwhile the script checks that every server still
// delivers its own broadcasts to its own clients; afterwards, that cross-server delivery
// resumes by itself. Without CLUSTER_OUTAGE=1 that check is skipped.
"use strict";

const path = require("node:path");
const { createRequire } = require("node:module");
const { Client, assert, describe, main, sleep, stdinLines } = require("./lib");

// The emitter and the Redis client come from the Node peer's packages.
const peerRequire = createRequire(path.join(__dirname, "..", "peers", "node", "package.json"));

const SIOLOOP = (process.env.CLUSTER_SIOLOOP || "").split(",").filter(Boolean);
const NODE = process.env.CLUSTER_NODE || "";
const REDIS = process.env.CLUSTER_REDIS || "";
const OUTAGE = process.env.CLUSTER_OUTAGE === "1";
// With CLUSTER_ADAPTER=streams every server speaks @socket.io/redis-streams-adapter 0.3 (one
// Redis stream); @socket.io/redis-emitter has no such protocol, so its checks are skipped.
// CLUSTER_ADAPTER=sharded (createShardedAdapter, Redis 7 sharded pub/sub) has no emitter either:
// it runs the same checks as streams.
const STREAMS = process.env.CLUSTER_ADAPTER === "streams" || process.env.CLUSTER_ADAPTER === "sharded";
const SHARDED = process.env.CLUSTER_ADAPTER === "sharded";
// CLUSTER_SUBSCRIPTION_MODE is the subscriptionMode of every server with sharded (default
// dynamic). With dynamic-private each socket's own channel is checked on Redis: CLUSTER_REDIS
// must then be the one Redis, not a node of a Redis Cluster (PUBSUB SHARDNUMSUB asks one node).
const PRIVATE = SHARDED && process.env.CLUSTER_SUBSCRIPTION_MODE === "dynamic-private";
const KILL_MARKER = "@@KILL_REDIS@@";

// Lines the driver writes on stdin.
const waitLine = stdinLines();

// ADMIN is the bearer token of the sioloop servers: without one they do
// not serve the /sockets routes on their client port.
const ADMIN = process.env.CLUSTER_ADMIN_TOKEN ? { Authorization: "Bearer " + process.env.CLUSTER_ADMIN_TOKEN } : {};

async function postJSON(base, route, body) {
  const res = await fetch(base + route, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...ADMIN },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert(res.status === 200, `POST ${base}${route} ${JSON.stringify(body)}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function getJSON(url) {
  const res = await fetch(url, { headers: ADMIN });
  const text = await res.text();
  assert(res.status === 200, `GET ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const isBuf = (x, bytes) => {
  const b = Buffer.isBuffer(x) ? x : x instanceof ArrayBuffer ? Buffer.from(x) : null;
  return b !== null && b.equals(Buffer.from(bytes));
};

async function run(r) {
  assert(SIOLOOP.length >= 1 && NODE && REDIS, "set CLUSTER_SIOLOOP, CLUSTER_NODE and CLUSTER_REDIS");
  const servers = [...SIOLOOP, NODE];
  const clients = [];
  servers.forEach((url, i) => {
    const kind = i < SIOLOOP.length ? `sioloop${i}` : "node";
    clients.push(new Client(url, `${kind}-a`), new Client(url, `${kind}-b`));
  });
  const sioloopClients = clients.slice(0, 2 * SIOLOOP.length);
  const nodeClients = clients.slice(2 * SIOLOOP.length);
  const { createClient } = peerRequire("redis");
  const { Emitter } = peerRequire("@socket.io/redis-emitter");
  const rc = createClient({ url: REDIS });
  rc.on("error", () => {});
  let seq = 0;

  // expectAll posts body to base and waits until every client in want got the event; with
  // notWant, a sentinel broadcast from the same server proves that those did not get it.
  async function everyone(list, ev, pred, ms) {
    await Promise.all(list.map((c) => c.wait(ev, pred, ms)));
  }

  await r.check(`connect 2 clients to each of the ${servers.length} servers`, 15000, async () => {
    await Promise.all(clients.map((c) => c.connect()));
    await rc.connect();
  });

  await r.check("a POST to any sioloop server reaches the clients of every server", 15000, async () => {
    for (const [i, url] of SIOLOOP.entries()) {
      const n = ++seq;
      await postJSON(url, "/SendWebsocketEvent", { event: "from-sioloop", data: { server: i, n } });
      await everyone(clients, "from-sioloop", (a) => a[0] && a[0].n === n, 5000);
    }
  });

  await r.check("Node io.to(room).emit reaches the sioloop clients in that room, and only them", 15000, async () => {
    const members = [sioloopClients[0], sioloopClients[3], nodeClients[1]];
    for (const c of members) {
      const rooms = await c.s.timeout(5000).emitWithAck("subscribe", "room-x");
      assert(rooms.includes("room-x"), `${c.name}: subscribe ack ${describe(rooms)}`);
    }
    // With the sharded adapter (dynamic modes) a server subscribes a room's channel when the room
    // gets its first member there, after the join has been acknowledged (Node's adapter too): a
    // broadcast posted at once may go out before the subscription is in place, most often on a
    // Redis Cluster, where it may open a connection to the channel's shard first. So there the
    // broadcast is posted again, up to 5 s, until it reaches every member; elsewhere once.
    const deadline = Date.now() + 5000;
    let n = 0;
    let missing;
    do {
      n++;
      await postJSON(NODE, "/SendWebsocketEvent", { rooms: "room-x", event: "roomcast", data: n });
      await postJSON(NODE, "/SendWebsocketEvent", { event: "sentinel-room", data: n });
      missing = [];
      for (const c of members) {
        const { index } = await c.wait("sentinel-room", (a) => a[0] === n, 5000);
        if (!c.has("roomcast", (a) => a[0] === n, index)) missing.push(c.name);
      }
      if (missing.length > 0 && SHARDED) await sleep(100);
    } while (missing.length > 0 && SHARDED && Date.now() < deadline);
    assert(missing.length === 0, `roomcast ${n} missing at ${missing.join(", ")} (members), after ${n} tries`);
    for (const c of clients) {
      const { index } = await c.wait("sentinel-room", (a) => a[0] === n, 5000);
      const got = c.has("roomcast", null, index);
      assert(got === members.includes(c), `${c.name}: roomcast ${got ? "received" : "missing"} (member: ${members.includes(c)})`);
    }
  });

  if (STREAMS) {
    await r.check("a Node broadcast reaches sioloop clients through the stream", 15000, async () => {
      await postJSON(NODE, "/SendWebsocketEvent", { event: "node-all", data: { from: "node" } });
      await everyone(clients, "node-all", (a) => a[0] && a[0].from === "node", 5000);
    });
  }

  if (!STREAMS) await r.check("@socket.io/redis-emitter emits reach sioloop clients (all, a room, binary)", 15000, async () => {
    const em = new Emitter(rc);
    em.emit("emitted", { from: "emitter" }, Buffer.from([1, 2, 3]));
    em.to("room-x").emit("emitted-room", 7);
    em.emit("sentinel-emitter");
    await everyone(clients, "emitted", (a) => a[0] && a[0].from === "emitter" && isBuf(a[1], [1, 2, 3]), 5000);
    for (const c of clients) {
      const { index } = await c.wait("sentinel-emitter", null, 5000);
      const inRoom = c === sioloopClients[0] || c === sioloopClients[3] || c === nodeClients[1];
      assert(c.has("emitted-room", (a) => a[0] === 7, index) === inRoom, `${c.name}: emitted-room vs room membership ${inRoom}`);
    }
  });

  await r.check("a POST with \"ack\":true to sioloop waits for the acknowledgements of every server's clients", 15000, async () => {
    for (const c of clients) c.s.on("ask", (n, cb) => cb({ from: c.name, n }));
    const res = await postJSON(SIOLOOP[0], "/SendWebsocketEvent", { event: "ask", data: 7, ack: true, timeout: "3s" });
    const from = res.responses.map((x) => x.args[0] && x.args[0].from).sort();
    const want = clients.map((c) => c.name).sort();
    assert(res.recipients === clients.length && res.timeouts === 0 && JSON.stringify(from) === JSON.stringify(want),
      `ack answer ${describe(res)}`);
  });

  await r.check("fetchSockets() on the Node server lists the sioloop sockets", 15000, async () => {
    const res = await getJSON(NODE + "/sockets");
    const ids = res.sockets.map((s) => s.id).sort();
    const want = clients.map((c) => c.id).sort();
    assert(JSON.stringify(ids) === JSON.stringify(want), `Node fetchSockets ${describe(ids)}, want ${describe(want)}`);
    const s0 = res.sockets.find((s) => s.id === sioloopClients[0].id);
    assert(s0.rooms.includes(s0.id) && s0.rooms.includes("room-x"), `rooms of a sioloop socket seen from Node: ${describe(s0.rooms)}`);
    assert(typeof s0.address === "string" && s0.address !== "", `address ${describe(s0.address)}`);
    const inRoom = await getJSON(NODE + "/sockets?room=room-x");
    assert(inRoom.count === 3, `Node fetchSockets in room-x: ${describe(inRoom.sockets.map((s) => s.id))}`);
  });

  await r.check("GET /sockets on sioloop lists the Node server's sockets", 15000, async () => {
    for (const url of SIOLOOP) {
      const res = await getJSON(url + "/sockets");
      const ids = res.sockets.map((s) => s.id).sort();
      const want = clients.map((c) => c.id).sort();
      assert(JSON.stringify(ids) === JSON.stringify(want), `${url}/sockets ${describe(ids)}, want ${describe(want)}`);
      assert(res.servers === servers.length && res.complete === true, `${url}/sockets reach ${res.answered}/${res.servers}`);
      const n0 = res.sockets.find((s) => s.id === nodeClients[0].id);
      assert(n0 && n0.rooms.includes(n0.id), `Node socket as seen from sioloop: ${describe(n0)}`);
    }
  });

  await r.check("socketsJoin from sioloop (and the emitter) reaches sockets on other servers", 15000, async () => {
    // Without the emitter (streams), the last sioloop server joins its own socket.
    const last = sioloopClients[sioloopClients.length - 1];
    if (STREAMS) await postJSON(SIOLOOP[SIOLOOP.length - 1], "/sockets/join", { to: last.id, room: "joined" });
    else new Emitter(rc).in(last.id).socketsJoin("joined");
    await postJSON(SIOLOOP[0], "/sockets/join", { to: nodeClients[0].id, room: "joined" });
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await getJSON(SIOLOOP[1] + "/sockets?room=joined");
      const ids = res.sockets.map((s) => s.id).sort();
      if (ids.length === 2) {
        assert(JSON.stringify(ids) === JSON.stringify([last.id, nodeClients[0].id].sort()), `joined: ${describe(ids)}`);
        break;
      }
      assert(Date.now() < deadline, `room "joined" holds ${describe(ids)} after 5s`);
      await sleep(20);
    }
    await postJSON(SIOLOOP[SIOLOOP.length - 1], "/SendWebsocketEvent", { rooms: "joined", event: "to-joined" });
    await everyone([last, nodeClients[0]], "to-joined", null, 5000);
  });

  await r.check('a POST with "to" reaches that one socket on another server, from sioloop and from Node', 15000, async () => {
    const last = sioloopClients[sioloopClients.length - 1];
    for (const [from, target] of [[SIOLOOP[0], nodeClients[0]], [NODE, sioloopClients[0]], [SIOLOOP[0], last]]) {
      const n = ++seq;
      await postJSON(from, "/SendWebsocketEvent", { to: target.id, event: "direct", data: n });
      await target.wait("direct", (a) => a[0] === n, 5000);
      await postJSON(from, "/SendWebsocketEvent", { event: "sentinel-direct", data: n });
      for (const c of clients) {
        const { index } = await c.wait("sentinel-direct", (a) => a[0] === n, 5000);
        assert(c === target || !c.has("direct", (a) => a[0] === n, index), `${c.name} got the event posted to ${target.name}`);
      }
    }
  });

  // A socket's own channel (sharded adapter's dynamicChannel of its id): in dynamic-private
  // mode its server, sioloop or Node, subscribes it alone; in dynamic mode nobody does.
  const ownChannel = (c) => `socket.io#/#${c.id}#`;

  if (SHARDED) {
    const what = PRIVATE ? "each socket's own channel is subscribed by its server alone (dynamic-private)" : "no socket's own channel is subscribed (dynamic)";
    await r.check(what, 15000, async () => {
      const subscribed = new Set(await rc.sendCommand(["PUBSUB", "SHARDCHANNELS", "socket.io#/#*"]));
      for (const c of clients) {
        assert(subscribed.has(ownChannel(c)) === PRIVATE, `${c.name}: ${ownChannel(c)} subscribed: ${subscribed.has(ownChannel(c))}`);
      }
      if (!PRIVATE) return;
      const counts = await rc.sendCommand(["PUBSUB", "SHARDNUMSUB", ...clients.map(ownChannel)]);
      for (let i = 0; i < counts.length; i += 2) {
        assert(Number(counts[i + 1]) === 1, `${counts[i]}: ${counts[i + 1]} subscribers, want 1 (its server)`);
      }
    });
  }

  if (PRIVATE) {
    await r.check('dynamic-private: a POST with "to" goes on the socket\'s own channel, from sioloop and from Node', 15000, async () => {
      const spy = rc.duplicate();
      spy.on("error", () => {});
      await spy.connect();
      r.defer(() => spy.disconnect().catch(() => {}));
      const seen = [];
      const pairs = [[SIOLOOP[0], nodeClients[0]], [NODE, sioloopClients[0]]];
      for (const [, target] of pairs) await spy.sSubscribe(ownChannel(target), (msg, ch) => seen.push({ ch, msg: JSON.parse(msg) }));
      for (const [from, target] of pairs) {
        const n = ++seq;
        await postJSON(from, "/SendWebsocketEvent", { to: target.id, event: "spied", data: n });
        await target.wait("spied", (a) => a[0] === n, 5000);
        const deadline = Date.now() + 5000;
        let m;
        while (!(m = seen.find((x) => x.ch === ownChannel(target) && x.msg.data.packet.data[1] === n))) {
          assert(Date.now() < deadline, `${from}: no message on ${ownChannel(target)}; seen ${describe(seen)}`);
          await sleep(10);
        }
        assert(m.msg.type === 3 && describe(m.msg.data.opts.rooms) === describe([target.id]), `${from}: message ${describe(m.msg)}`);
      }
    });
  }

  if (OUTAGE) {
    await r.check("Redis down for 5 s: nothing dies, local delivery goes on, cross-server delivery resumes", 45000, async () => {
      console.log(KILL_MARKER);
      await waitLine("killed");
      let restarted = false;
      waitLine("restarted").then(() => (restarted = true));
      let rounds = 0;
      const t0 = Date.now();
      while (!restarted) {
        for (const [i, url] of SIOLOOP.entries()) {
          const n = ++seq;
          const t = Date.now();
          await postJSON(url, "/SendWebsocketEvent", { event: "during-outage", data: { server: i, n } });
          const own = sioloopClients.slice(2 * i, 2 * i + 2);
          await everyone(own, "during-outage", (a) => a[0] && a[0].n === n, 2000);
          const ms = Date.now() - t;
          assert(ms < 2000, `local delivery on server ${i} took ${ms}ms during the outage`);
        }
        rounds++;
        await sleep(100);
        assert(Date.now() - t0 < 30000, "the driver never restarted Redis");
      }
      assert(rounds >= 3, `only ${rounds} rounds of local checks during the outage`);
      const t1 = Date.now();
      // Cross-server delivery, both ways, resumes by itself.
      for (;;) {
        const n = ++seq;
        await postJSON(SIOLOOP[0], "/SendWebsocketEvent", { event: "after-outage", data: n });
        await postJSON(NODE, "/SendWebsocketEvent", { event: "after-outage-node", data: n });
        try {
          await everyone(clients, "after-outage", (a) => a[0] === n, 1000);
          await everyone(clients, "after-outage-node", (a) => a[0] === n, 1000);
          break;
        } catch (e) {
          if (Date.now() - t1 > 20000) throw new Error(`cross-server delivery did not resume within 20s: ${e.message}`);
        }
      }
      console.log(`# ${rounds} rounds of local delivery during the outage; cross-server delivery back ${Date.now() - t1}ms after Redis`);
    });
  }

  await r.check("no client was disconnected", 1000, async () => {
    for (const c of clients) {
      assert(c.disconnects.length === 0 && c.s.connected, `${c.name}: disconnected (${c.disconnects.join(", ")})`);
    }
  });

  const ids = clients.map((c) => c.id); // a closed socket has no id
  for (const c of clients) c.s.close();
  if (SHARDED) {
    await r.check("once every client is gone, no channel of a room or a socket stays subscribed", 15000, async () => {
      const gone = ["room-x", "joined", ...ids].map((room) => `socket.io#/#${room}#`);
      const deadline = Date.now() + 5000;
      for (;;) {
        const subscribed = new Set(await rc.sendCommand(["PUBSUB", "SHARDCHANNELS", "socket.io#/#*"]));
        const left = gone.filter((ch) => subscribed.has(ch));
        if (left.length === 0) break;
        assert(Date.now() < deadline, `still subscribed after 5s: ${left.join(" ")}`);
        await sleep(20);
      }
    });
  }
  await rc.quit().catch(() => {});
}

main("cluster", { cluster: { run } }, 110);
