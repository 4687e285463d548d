"""Independent MQTT 5 client for the broker's access tests (paho-mqtt, not the project's code).

Prints one JSON object per line on stdout and exits 0 whatever the broker answered (the test judges):

  publish   connect, publish one QoS 1 message, print {"connack": ..., "puback": ...}
  subscribe connect, subscribe at QoS 1, print {"connack": ..., "suback": ...}
  hold      connect, print {"connack": ...}, then wait until the broker closes the connection and print
            {"disconnected": ...}; gives up after --hold-seconds and prints {"still_connected": true}
  connect   open --connections connections one after the other (each its own client id), print
            {"connack": ..., "session_expiry": <CONNACK property or null>} for each, keep the accepted ones
            open until stdin closes (or --hold-seconds), then print {"closed_by_broker": <count>}

--session-expiry asks for that session expiry interval (s) in CONNECT (MQTT 5 property 0x11).

Login: --username/--password, and/or a client certificate over TLS (--ca, --cert, --key). Without --ca
the connection is plain TCP.
"""
import argparse
import json
import sys
import threading
import uuid

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["publish", "subscribe", "hold", "connect"])
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--username")
parser.add_argument("--password")
parser.add_argument("--ca")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--topic", default="")
parser.add_argument("--client-id", default=f"probe-{uuid.uuid4().hex[:12]}")
parser.add_argument("--hold-seconds", type=float, default=30)
parser.add_argument("--session-expiry", type=int)
parser.add_argument("--connections", type=int, default=1)
args = parser.parse_args()


def say(obj):
    print(json.dumps(obj), flush=True)




def connect_many():
    """Opens --connections connections in turn; reports each CONNACK and the session expiry granted."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    held, closed = [], []
    for i in range(args.connections):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{args.client_id}-{i}", protocol=mqtt.MQTTv5)
        if args.username is not None:
            c.username_pw_set(args.username, args.password)
        if args.ca:
            c.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)
        c.reconnect_delay_set(3600, 3600)
        done = threading.Event()
        out = {}

        def on_connect(cl, userdata, flags, reason_code, properties, out=out, done=done):
            out["connack"] = str(reason_code)
            out["session_expiry"] = getattr(properties, "SessionExpiryInterval", None)
            done.set()

        def on_disconnect(cl, userdata, flags, reason_code, properties, out=out, done=done):
            out.setdefault("connack", None)
            out["disconnected"] = str(reason_code)
            if "held" in out:
                closed.append(i)
            done.set()

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        props = None
        if args.session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = args.session_expiry
        try:
            c.connect(args.host, args.port, keepalive=30, clean_start=True, properties=props)
        except Exception as error:
            say({"connect_error": f"{type(error).__name__}: {error}"})
            continue
        c.loop_start()
        done.wait(15)
        say({"connack": out.get("connack"), "session_expiry": out.get("session_expiry")})
        if out.get("connack") == "Success":
            out["held"] = True
            held.append(c)
        else:
            c.loop_stop()
    deadline = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), deadline.set()), daemon=True).start()
    deadline.wait(args.hold_seconds)
    say({"closed_by_broker": len(closed)})
    for c in held:
        c.disconnect()
        c.loop_stop()
    sys.exit(0)


if args.mode == "connect":
    connect_many()

client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5)
if args.username is not None:
    client.username_pw_set(args.username, args.password)
if args.ca:
    client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)

connected = threading.Event()
acked = threading.Event()
gone = threading.Event()
result = {}


def on_connect(c, userdata, flags, reason_code, properties):
    result["connack"] = str(reason_code)
    connected.set()


def on_publish(c, userdata, mid, reason_code, properties):
    result["puback"] = str(reason_code)
    acked.set()


def on_subscribe(c, userdata, mid, reason_codes, properties):
    result["suback"] = [str(r) for r in reason_codes]
    acked.set()


def on_disconnect(c, userdata, flags, reason_code, properties):
    result["disconnected"] = str(reason_code)
    connected.set()
    gone.set()


client.on_connect = on_connect
client.on_publish = on_publish
client.on_subscribe = on_subscribe
client.on_disconnect = on_disconnect
client.reconnect_delay_set(3600, 3600)  # never reconnect by itself

try:
    client.connect(args.host, args.port, keepalive=30)
except Exception as error:  # TLS handshake refused, connection refused
    say({"connect_error": f"{type(error).__name__}: {error}"})
    sys.exit(0)
client.loop_start()
if not connected.wait(15):
    say({"connack": None})
    sys.exit(0)
if result.get("connack") != "Success":
    say({"connack": result.get("connack"), "disconnected": result.get("disconnected")})
    client.loop_stop()
    sys.exit(0)

if args.mode == "publish":
    client.publish(args.topic, b'{"probe":true}', qos=1)
    acked.wait(15)
    say({"connack": result["connack"], "puback": result.get("puback")})
elif args.mode == "subscribe":
    client.subscribe(args.topic, qos=1)
    acked.wait(15)
    say({"connack": result["connack"], "suback": result.get("suback"), "disconnected": result.get("disconnected")})
else:
    say({"connack": result["connack"]})
    if gone.wait(args.hold_seconds):
        say({"disconnected": result["disconnected"]})
    else:
        say({"still_connected": True})
client.disconnect()
client.loop_stop()
