"""Independent field gateway for the credential-rotation test (paho-mqtt, not the project's code).

Publishes the messages of MESSAGES.jsonl ({"topic", "payload", "id"} per line) at QoS 1 over MQTT 5,
logging in as USERNAME with the password read from PASSWORD_FILE, and writes the id of each message whose
PUBACK had a success reason code to ACKED.txt as it is acknowledged. Single-threaded (paho's loop() driven
here), so reconnecting is safe at any point.

Until it has switched, the last third of the messages goes out as a slow trickle (the last 50 wait), so
the switch always comes mid-stream. When the file SWITCH exists (the test creates it after
`pnpm operators rotate`), the gateway switches
credentials as a real one would: it disconnects cleanly, reads PASSWORD_FILE again and reconnects with it;
what was in flight and not acknowledged is sent again (the broker may then hold it twice: duplicates are
counted by the test, not hidden). Any connection loss is handled the same way.

Prints one JSON line per CONNACK, {"connack": ..., "password_sha256": <first 16 hex of the password's
SHA-256>, "acked": <acknowledged so far>}, and a final summary {"acked", "refused", "unsent", "switched_at"}.

usage: mqtt_gateway.py HOST PORT USERNAME PASSWORD_FILE MESSAGES.jsonl ACKED.txt SWITCH [MAX_INFLIGHT]
"""
import hashlib
import json
import os
import sys
import time

import paho.mqtt.client as mqtt

host, port, username, password_file, messages_file, acked_file, switch_file = sys.argv[1:8]
max_inflight = int(sys.argv[8]) if len(sys.argv) > 8 else 50
messages = [json.loads(line) for line in open(messages_file, encoding="utf-8") if line.strip()]

queue = list(range(len(messages)))
pending = {}  # mid -> message index
early = {}  # mid -> reason code of a PUBACK seen before publish() returned the mid
acked = set()
refused = {}
state = {"connected": False, "connack": None, "switched_at": None}
out = open(acked_file, "w", encoding="utf-8")


def say(obj):
    print(json.dumps(obj), flush=True)


def read_password():
    return open(password_file, encoding="utf-8").read().strip()


def settle(index, reason_code):
    if reason_code.is_failure:
        refused[str(reason_code)] = refused.get(str(reason_code), 0) + 1
    elif index not in acked:
        acked.add(index)
        out.write(messages[index]["id"] + "\n")
        out.flush()


def on_connect(c, userdata, flags, reason_code, properties):
    state["connack"] = str(reason_code)
    state["connected"] = not reason_code.is_failure
    say({"connack": str(reason_code), "password_sha256": state["fingerprint"], "acked": len(acked)})


def on_publish(c, userdata, mid, reason_code, properties):
    index = pending.pop(mid, None)
    if index is None:
        early[mid] = reason_code
    else:
        settle(index, reason_code)


def on_disconnect(c, userdata, flags, reason_code, properties):
    state["connected"] = False
    # What was in flight may or may not be on the broker: send it again (a device would).
    queue[:0] = sorted(pending.values())
    pending.clear()
    early.clear()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gw-{username}-{int(time.time()*1000)}", protocol=mqtt.MQTTv5)
client.on_connect = on_connect
client.on_publish = on_publish
client.on_disconnect = on_disconnect
client.max_inflight_messages_set(max_inflight)


def connect():
    """(Re)connects with the password in the file now; waits for the CONNACK."""
    password = read_password()
    state["fingerprint"] = hashlib.sha256(password.encode()).hexdigest()[:16]
    client.username_pw_set(username, password)
    state["connack"] = None
    try:
        if state.get("once"):
            client.reconnect()
        else:
            client.connect(host, int(port), keepalive=30, clean_start=True)
    except Exception as error:  # refused at TCP level; try again
        say({"connect_error": f"{type(error).__name__}: {error}"})
        time.sleep(0.5)
        return
    state["once"] = True
    deadline = time.time() + 15
    while state["connack"] is None and time.time() < deadline:
        client.loop(0.05)


deadline = time.time() + 600
connect()
while time.time() < deadline and (queue or pending):
    if state["switched_at"] is None and os.path.exists(switch_file) and state["connected"]:
        # The switch: a clean disconnect, then a login with the password the file holds now.
        state["switched_at"] = len(acked)
        client.disconnect()
        for _ in range(20):
            client.loop(0.05)
        on_disconnect(client, None, None, None, None)
        connect()
        continue
    if not state["connected"]:
        time.sleep(0.2)
        connect()
        continue
    # Until it has switched, the gateway keeps its last third as a slow trickle (one message every 200 ms,
    # the last 50 held back): the stream is still going, with messages in flight, whenever the switch
    # comes, however long the rotation command takes on a loaded machine.
    trickle = state["switched_at"] is None and len(queue) <= len(messages) // 3
    if trickle and (len(queue) <= 50 or time.time() - state.get("last_sent", 0) < 0.2):
        client.loop(0.01)
        continue
    while queue and len(pending) < max_inflight:
        index = queue.pop(0)
        state["last_sent"] = time.time()
        info = client.publish(messages[index]["topic"], messages[index]["payload"], qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            queue.insert(0, index)
            break
        if info.mid in early:
            settle(index, early.pop(info.mid))
        else:
            pending[info.mid] = index
        if trickle:
            break
    client.loop(0.01)

client.disconnect()
out.close()
say({"acked": len(acked), "refused": refused, "unsent": len(queue) + len(pending), "switched_at": state["switched_at"]})
sys.exit(0 if not queue and not pending else 1)
