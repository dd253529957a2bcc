/**
 * A relay in its own process, for tests that SIGKILL it. Env: DATABASE_URL, NATS_URL, and
 * optionally BATCH_SIZE, MAX_IN_FLIGHT. With BLOCK_AT_MARK=k it lets k-1 mark rounds through; at the
 * k-th it prints `{"beforeMark": [event ids]}` and never marks again (it keeps publishing until
 * its window of unmarked rows is full), so the test can kill it between publish and mark.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createRelay } from "../src/index.js";

const env = process.env;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

let marks = 0;
const nc = await connect({ servers: env.NATS_URL, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
const relay = createRelay({
  connectionString: env.DATABASE_URL!,
  js: jetstream(nc),
  batchSize: Number(env.BATCH_SIZE ?? 500),
  maxInFlight: Number(env.MAX_IN_FLIGHT ?? 1000),
  pollIntervalMs: 100,
  onPublished: (count) => say({ published: count }),
  beforeMark: env.BLOCK_AT_MARK
    ? async (ids) => {
        if (++marks < Number(env.BLOCK_AT_MARK)) return;
        say({ beforeMark: ids });
        // Hold here until the test kills us: these rows are in the stream but never marked.
        await new Promise(() => {});
      }
    : undefined,
});
relay.start();
say({ started: true });
// Report leadership changes so a test can tell which relay holds the lock.
let leader = false;
setInterval(() => {
  if (relay.isLeader !== leader) say({ leader: (leader = relay.isLeader) });
}, 20).unref();
