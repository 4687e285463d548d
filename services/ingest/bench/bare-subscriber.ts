// Child process of the ingest bench: a bare MQTT 5 QoS 1 subscriber that acknowledges each message at
// once (mqtt.js default handling), counting until BENCH_EXPECT messages, then printing one JSON line
// (and one after the first BENCH_WARMUP messages).
import mqtt from 'mqtt';

const expect = Number(process.env.BENCH_EXPECT ?? '0');
const warmup = Number(process.env.BENCH_WARMUP ?? '0');
const client = mqtt.connect(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:11883', {
  protocolVersion: 5,
  clientId: process.env.BENCH_CLIENT_ID ?? `bench-bare-${process.pid}`,
  ...(process.env.MQTT_USERNAME
    ? { username: process.env.MQTT_USERNAME, password: process.env.MQTT_PASSWORD }
    : {}),
  clean: false,
  properties: { sessionExpiryInterval: 300 },
});
let count = 0;
let first = 0;
let last = 0;
client.on('message', () => {
  const now = Date.now();
  if (count === 0) first = now;
  count += 1;
  last = now;
  if (warmup > 0 && count === warmup) console.log(JSON.stringify({ warmedUp: true }));
  if (count === expect) {
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({ count, first, last, cpuSeconds: (user + system) / 1e6 }));
    client.end(false, {}, () => process.exit(0));
  }
});
client.on('connect', () => {
  client.subscribe(process.env.BENCH_FILTER ?? '#', { qos: 1 }, (error) => {
    if (error) {
      console.error(error.message);
      process.exit(1);
    }
    console.log(JSON.stringify({ subscribed: true }));
  });
});
