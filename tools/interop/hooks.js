#!/usr/bin/env node
// The backend hooks of issue 18, run with the official socket.io-client against a sioloop whose
// CONNECT_HOOK_URL, SUBSCRIBE_HOOK_URL, EVENT_HOOK_URL and DISCONNECT_HOOK_URL point at the
// backend hooks_test.go serves (BACKEND_URL; see hookBackend there for what it answers), with
// HOOK_SECRET, HOOK_FORWARD_HEADERS=X-Tenant and a short HOOK_BATCH_INTERVAL.
//
// usage: BACKEND_URL=http://127.0.0.1:N node hooks.js [--url http://127.0.0.1:3000] [--timeout seconds] hooks
"use strict";

const { io } = require("socket.io-client");
const { assert, deepEqual, describe, main, once, sleep } = require("./lib");

const PATH = "/socket.io/";

function backend() {
  const u = process.env.BACKEND_URL;
  if (!u) throw new Error("this scenario needs BACKEND_URL (the test's backend)");
  return u;
}

function client(r, url, name, opts) {
  const s = io(
    url + "/",
    Object.assign(
      { path: PATH, forceNew: true, reconnection: false, timeout: 10000, auth: { name }, extraHeaders: { "X-Tenant": "acme" } },
      opts || {},
    ),
  );
  if (r) r.defer(() => s.close());
  return s;
}

async function connected(s) {
  if (!s.connected) await once(s, "connect", 10000, ["connect_error"]);
  return s;
}

async function seen() {
  return (await fetch(backend() + "/seen")).json();
}

const scenarios = {
  hooks: {
    async run(r, { url }) {
      await r.check("connect-accepted-with-channels", 10000, async () => {
        for (const transports of [["websocket"], ["polling"]]) {
          const s = await connected(client(r, url, "alice", { transports }));
          const rooms = await s.timeout(5000).emitWithAck("subscribe", []);
          assert(deepEqual(rooms, [s.id, "user:alice", "lobby"]), `${transports}: rooms ${describe(rooms)}, want [id, "user:alice", "lobby"]`);
        }
      });
      await r.check("connect-refused-with-message-and-data", 10000, async () => {
        const s = client(r, url, "mallory");
        const [err] = await once(s, "connect_error", 10000, ["connect"]);
        assert(err.message === "banned", `err.message ${describe(err.message)}, want "banned"`);
        assert(deepEqual(err.data, { reason: "test" }), `err.data ${describe(err.data)}, want {reason:"test"}`);
      });
      await r.check("subscribe-filtered", 10000, async () => {
        const s = await connected(client(r, url, "bob"));
        const rooms = await s.timeout(5000).emitWithAck("subscribe", ["public-news", "secret-plans", "public-sport"]);
        assert(deepEqual(rooms, [s.id, "user:bob", "lobby", "public-news", "public-sport"]), `rooms ${describe(rooms)}`);
      });
      await r.check("emitWithAck-answered-by-backend", 10000, async () => {
        const s = await connected(client(r, url, "carol"));
        const got = await s.timeout(5000).emitWithAck("order", { sku: "x-1", qty: 2 }, "gift");
        const want = { ok: true, user: "carol", name: "carol", args: [{ sku: "x-1", qty: 2 }, "gift"] };
        assert(deepEqual(got, want), `ack ${describe(got)}, want ${describe(want)}`);
        const err = await s.timeout(5000).emitWithAck("fail", 1);
        assert(deepEqual(err, { error: "out of stock" }), `ack of a refused event ${describe(err)}`);
        // Order: the answers of a burst come back in the order sent.
        const acks = await Promise.all([...Array(20).keys()].map((i) => s.timeout(5000).emitWithAck("order", i)));
        acks.forEach((a, i) => assert(a.args[0] === i, `ack ${i}: ${describe(a)}`));
      });
      await r.check("disconnect-batch-with-reasons", 15000, async () => {
        const a = await connected(client(null, url, "dave", { transports: ["websocket"] }));
        const b = await connected(client(null, url, "dave", { transports: ["websocket"] }));
        // The server counts a socket right after it sent the CONNECT answer (OnConnect, Node's
        // order): on a loaded machine b's count may still be on its way when a's disconnect
        // arrives at once.
        await sleep(100);
        const aid = a.id, bid = b.id; // socket.id is undefined once disconnected
        const ids = { [aid]: "client namespace disconnect", [bid]: "transport close" };
        a.disconnect(); // client namespace disconnect
        await sleep(200);
        b.io.engine.close(); // transport close
        for (;;) {
          const recs = (await seen()).disconnects.filter((d) => ids[d.id]);
          if (recs.length === 2) {
            for (const d of recs) {
              assert(d.reason === ids[d.id], `${d.id}: reason ${describe(d.reason)}, want ${describe(ids[d.id])}`);
              assert(d.user === "dave" && d.namespace === "/", `record ${describe(d)}`);
            }
            const last = recs.find((d) => d.id === bid);
            const first = recs.find((d) => d.id === aid);
            assert(first.user_sockets_left === 1 && first.last === false, `first record ${describe(first)}`);
            assert(last.user_sockets_left === 0 && last.last === true, `last record ${describe(last)}`);
            break;
          }
          await sleep(100);
        }
        const s = await seen();
        assert(s.bad_signatures === 0, `${s.bad_signatures} requests failed the signature check`);
      });
    },
  },
};

main("hooks", scenarios, 50);
