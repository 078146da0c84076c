"""The soak storm's watch cut aborts the API connections of one process, and nobody else's.

Two namespaces on a bridge: an "API server" (a listener that accepts and holds connections) and
a "node" where two clients connect to it, as a speaker and a kubelet would. Cutting the first
client's connections must abort its connection (the speaker's watch breaks) and leave the
second one's open.
"""

from __future__ import annotations

import json
import subprocess

from bench.l2_soak_storm import cut_api_connections, speaker_api_connections
from tests.netns.conftest import PYTHON, wait_for

PORT = 6443
SERVER = """
import socket, sys, time
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen()
print("ready", flush=True)
held = []
end = time.monotonic() + 60
listener.settimeout(1)
while time.monotonic() < end:
    try:
        held.append(listener.accept()[0])
    except OSError:
        pass
"""
CLIENT = """
import json, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sock.settimeout(60)
print(json.dumps("connected"), flush=True)
try:
    print(json.dumps("closed" if sock.recv(1) == b"" else "data"), flush=True)
except OSError as error:
    print(json.dumps(type(error).__name__), flush=True)
"""


def _start(lan, host, *argv):
    process = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, PYTHON, *argv], stdout=subprocess.PIPE, text=True
    )
    lan.pids.append(process.pid)
    return process


def test_a_cut_aborts_the_chosen_process_connections_only(lan):
    api, node = lan.add_host("api"), lan.add_host("node")
    server = _start(lan, api, "-c", SERVER, api.ipv4, str(PORT))
    assert server.stdout.readline().strip() == "ready"
    speaker, kubelet = (_start(lan, node, "-c", CLIENT, api.ipv4, str(PORT)) for _unused in range(2))
    for client in (speaker, kubelet):
        assert json.loads(client.stdout.readline()) == "connected"
    target = (api.ipv4, PORT)
    wait_for("both connections listed", lambda: speaker_api_connections(node.netns, speaker.pid, target), 10)
    assert len(speaker_api_connections(node.netns, kubelet.pid, target)) == 1

    assert cut_api_connections(node.netns, speaker.pid, target) == 1

    assert json.loads(speaker.stdout.readline()) == "ConnectionAbortedError"
    assert speaker_api_connections(node.netns, speaker.pid, target) == []
    assert len(speaker_api_connections(node.netns, kubelet.pid, target)) == 1
    assert kubelet.poll() is None
