"""Independent QoS 1 publisher for fault tests (paho-mqtt, not the project's code).

Reads messages as JSON lines {"topic": ..., "payload": ..., "id": ...} from stdin-named file, publishes
each at QoS 1 over MQTT 5 and writes the ids whose PUBACK had a success reason code (< 0x80) to the
output file, one per line, as they are acknowledged. Like a device, it resends what was in flight when
the connection dropped (the broker may then hold it twice: duplicates, counted by the test, not hidden):
paho-mqtt 2.x keeps every QoS 1 message it has not seen acknowledged across reconnections, clean start or
not, and sends it again with the DUP flag and the same packet id (Client._messages_reconnect_reset_out), so
a message is acknowledged under the id it was published with, whichever broker acknowledges it.
Prints `acked N` every 1 000 acknowledgements so a test can pick its fault point, and `connected HOST:PORT`
at each connection.

With --server HOST:PORT (repeatable), a connection that drops or cannot be made goes to the next broker
of HOST:PORT and the --server list, in turn (the backup of a replicated pair, docs/mqtt-broker.md).

With RATE (messages per second, 0 = as fast as acknowledgements allow), publishes are paced so a stream
lasts long enough for a fault test to strike several times mid-stream; SIGUSR1 slows it to a trickle of
TRICKLE messages per second (default 2: every partition still sees traffic, so no consumer goes idle)
while the test restarts something, SIGUSR2 restores RATE.

usage: MQTT_PASSWORD=… mqtt_publish.py HOST PORT USERNAME MESSAGES.jsonl ACKED.txt [MAX_INFLIGHT] [RATE] [TRICKLE] [--server HOST:PORT]...

The password comes from the environment (MQTT_PASSWORD), not the command line: a command line is visible
to every user of the machine (`ps`), and a generated password that starts with '-' was taken for an option.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser(description="independent QoS 1 publisher (paho-mqtt)")
for name in ("host", "port", "username", "messages_file", "acked_file"):
    parser.add_argument(name)
parser.add_argument("max_inflight", nargs="?", type=int, default=200)
parser.add_argument("rate", nargs="?", type=float, default=0.0)
parser.add_argument("trickle", nargs="?", type=float, default=2.0)
parser.add_argument("--server", action="append", default=[], help="another broker HOST:PORT to fail over to")
args = parser.parse_args()
host, port, username, password = args.host, int(args.port), args.username, os.environ["MQTT_PASSWORD"]
messages_file, acked_file, max_inflight = args.messages_file, args.acked_file, args.max_inflight
servers = [(host, port)] + [(s.rsplit(":", 1)[0], int(s.rsplit(":", 1)[1])) for s in args.server]
current = [0]
rate, trickle = args.rate, args.trickle
current_rate = rate
next_due = time.time()


def pace(new_rate):
    def handler(signum, frame):
        global current_rate, next_due
        current_rate = new_rate
        next_due = time.time()
    return handler


signal.signal(signal.SIGUSR1, pace(trickle))
signal.signal(signal.SIGUSR2, pace(rate))
messages = [json.loads(line) for line in open(messages_file, encoding="utf-8") if line.strip()]

lock = threading.Condition()
pending = {}  # mid -> message index
queue = list(range(len(messages)))
acked = set()
refused = {}
out = open(acked_file, "w", encoding="utf-8")


early = {}  # mid -> reason code of a PUBACK that came before publish() returned its mid


def settle(index, reason_code):
    if reason_code.is_failure:
        refused[str(reason_code)] = refused.get(str(reason_code), 0) + 1
    elif index not in acked:
        acked.add(index)
        out.write(messages[index]["id"] + "\n")
        out.flush()
        if len(acked) % 1000 == 0:
            print(f"acked {len(acked)}", flush=True)


def on_publish(client, userdata, mid, reason_code, properties):
    with lock:
        index = pending.pop(mid, None)
        if index is None:
            early[mid] = reason_code
        else:
            settle(index, reason_code)
        lock.notify_all()


def next_server(client):
    # Called from the network thread when a connection dropped or could not be made. connect_async() is
    # paho's public way to name another broker: the host and port setters refuse while a lost connection
    # is not yet "closed", connect_async() resets that state first; the network loop's next reconnect()
    # then goes to the new broker (what was in flight stays pending and is sent again, see above).
    if len(servers) > 1:
        current[0] = (current[0] + 1) % len(servers)
        next_host, next_port = servers[current[0]]
        client.connect_async(next_host, next_port, clean_start=True)


def on_connect(client, userdata, flags, reason_code, properties):
    print(f"connected {client.host}:{client.port} ({reason_code})", flush=True)


def on_disconnect(client, userdata, flags, reason_code, properties):
    # What was in flight stays pending: paho sends it again after reconnecting (see above).
    next_server(client)
    with lock:
        lock.notify_all()


def on_connect_fail(client, userdata):
    next_server(client)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"indep-pub-{int(time.time()*1000)}", protocol=mqtt.MQTTv5)
client.username_pw_set(username, password)
client.on_publish = on_publish
client.on_disconnect = on_disconnect
client.on_connect = on_connect
client.on_connect_fail = on_connect_fail
client.max_inflight_messages_set(max_inflight)
client.reconnect_delay_set(min_delay=0.2, max_delay=1)
client.connect_async(host, port, clean_start=True)
client.loop_start()

deadline = time.time() + 900
while time.time() < deadline:
    with lock:
        if not queue and not pending:
            break
        if not client.is_connected() or not queue or len(pending) >= max_inflight:
            lock.wait(0.05)
            continue
        if current_rate > 0 and time.time() < next_due:
            lock.wait(min(0.05, next_due - time.time()))
            continue
        index = queue.pop(0)
        if current_rate > 0:
            next_due = max(next_due, time.time() - 1) + 1 / current_rate
    # Outside our lock: paho calls on_publish holding its own, and publish() takes that one.
    info = client.publish(messages[index]["topic"], messages[index]["payload"], qos=1)
    with lock:
        # NO_CONN: the connection dropped meanwhile; paho keeps the message and sends it after reconnecting.
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            if info.mid in early:
                settle(index, early.pop(info.mid))
            else:
                pending[info.mid] = index
        else:
            queue.insert(0, index)
            lock.wait(0.05)

client.loop_stop()
out.close()
print(json.dumps({"acked": len(acked), "refused": refused, "unsent": len(queue) + len(pending)}), flush=True)
sys.exit(0 if not queue and not pending else 1)
