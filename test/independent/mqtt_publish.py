"""Independent QoS 1 publisher for fault tests (paho-mqtt, not the project's code).

Reads messages as JSON lines {"topic": ..., "payload": ..., "id": ...} from stdin-named file, publishes
each at QoS 1 over MQTT 5 and writes the ids whose PUBACK had a success reason code (< 0x80) to the
output file, one per line, as they are acknowledged. Like a device, it resends what was in flight when
the connection dropped (the broker may then hold it twice: duplicates, counted by the test, not hidden).
Prints `acked N` every 1 000 acknowledgements so a test can pick its fault point.

With RATE (messages per second, 0 = as fast as acknowledgements allow), publishes are paced so a stream
lasts long enough for a fault test to strike several times mid-stream; SIGUSR1 slows it to a trickle of
TRICKLE messages per second (default 2: every partition still sees traffic, so no consumer goes idle)
while the test restarts something, SIGUSR2 restores RATE.

usage: mqtt_publish.py HOST PORT USERNAME PASSWORD MESSAGES.jsonl ACKED.txt [MAX_INFLIGHT] [RATE] [TRICKLE]
"""
import json
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt

host, port, username, password, messages_file, acked_file = sys.argv[1:7]
max_inflight = int(sys.argv[7]) if len(sys.argv) > 7 else 200
rate = float(sys.argv[8]) if len(sys.argv) > 8 else 0.0
trickle = float(sys.argv[9]) if len(sys.argv) > 9 else 2.0
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


def on_disconnect(client, userdata, flags, reason_code, properties):
    with lock:
        # What was in flight may or may not be on the broker: send it again (a device would).
        queue[:0] = sorted(pending.values())
        pending.clear()
        early.clear()
        lock.notify_all()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"indep-pub-{int(time.time()*1000)}", protocol=mqtt.MQTTv5)
client.username_pw_set(username, password)
client.on_publish = on_publish
client.on_disconnect = on_disconnect
client.max_inflight_messages_set(max_inflight)
client.reconnect_delay_set(min_delay=0.2, max_delay=1)
client.connect_async(host, int(port), clean_start=True)
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
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
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
