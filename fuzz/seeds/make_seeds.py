#!/usr/bin/env python3
"""Write the small checked-in seed corpus: a few valid (or nearly valid) inputs per target.

Run from anywhere: python3 fuzz/seeds/make_seeds.py. Deterministic, so re-running changes nothing.
The first byte of sealed/envelope/connection inputs selects a mode; see each target's doc.
"""
import base64
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def frame(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


KEY_ID = "0123456789abcdef"
EXPIRES = "2030-01-02T03:04:05Z"
CREATED = "2029-12-31T23:00:00Z"
NONCE = bytes(range(16))
MAC = hashlib.sha256(b"mac").digest()
DES = "133457799bbcdff1"
MACKEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

messages = {
    "key_hello": f"1100|1|{b64(b'spki der bytes')}|{b64(NONCE)}",
    "key_request": f"0101|{b64('user1')}|{b64(b'spki')}|{b64(NONCE)}|{b64(b'sig')}",
    # 128-byte wrapped key: the envelope target's client key is 1024 bits.
    "key_envelope": f"1101|{KEY_ID}|{EXPIRES}|{EXPIRES}|{b64(bytes(8))}|{b64(bytes(16))}|{b64(bytes(128))}|{b64(b'sig')}",
    "key_confirm": f"0102|{KEY_ID}|{b64(MAC)}",
    "key_done": f"1102|{KEY_ID}",
    "key_error": f"1109|BAD_REQUEST|{b64('出错了 | error')}",
    "hello": f"1000|1|{b64(NONCE)}",
    "login": f"0001|{b64('user1')}|{KEY_ID}|0|{b64(bytes(8))}|{b64(bytes(16))}|{b64(MAC)}",
    "error": f"1009|BAD_FRAME|{b64('bad frame')}",
    "chat_inner": f"0002|{b64('user2')}|{b64('你好 hello')}",
    "ping_inner": "0005",
    "login_ok_inner": f"1001|OK|{b64('user1')}|{b64('Nick')}",
    "chat_msg_inner": f"1002|7|1700000000000|{b64('user1')}|{b64('Nick')}||{b64('hi all')}",
    "user_list_inner": f"1003|{b64('user1')}|{b64('N1')}|{b64('user2')}|{b64('N2')}",
    "notice_inner": f"1004|JOIN|{b64('user2')}|{b64('N2')}|{b64('joined')}",
    "pong_inner": "1005",
}
for name, text in messages.items():
    write("message", name, text)

# frame: single frames, back-to-back frames, a partial frame, and a bad header.
write("frame", "one", frame(messages["hello"]))
write("frame", "two", frame(messages["key_done"]) + frame(messages["pong_inner"]))
write("frame", "partial", frame(messages["chat_inner"])[:-3])
write("frame", "too_large", b"\xff\xff\xff\xff" + b"x" * 8)
write("frame", "empty", b"\x00\x00\x00\x00")

# sealed: mode 1 (MAC fixed up by the target) and mode 2 (inner plaintext sealed by the target).
sealed_outer = f"0002|5|{b64(bytes(8))}|{b64(bytes(16))}|{b64(MAC)}"
write("sealed", "fixmac_chat", b"\x01" + sealed_outer.encode())
write("sealed", "fixmac_login", b"\x01" + messages["login"].encode())
write("sealed", "raw_chat", b"\x00" + sealed_outer.encode())
write("sealed", "plain_chat", b"\x02" + f"{b64('user2')}|{b64('hello')}".encode())
write("sealed", "plain_empty", b"\x02")

# envelope: mode 0 (a 1101 message) and mode 1 (the material plaintext inside the envelope).
write("envelope", "message", b"\x00" + messages["key_envelope"].encode())
material = f"{b64('user1')}|{KEY_ID}|{EXPIRES}|{DES}|{MACKEY}"
write("envelope", "material", b"\x01" + material.encode())
write("envelope", "material_extreme",
      b"\x01" + f"{b64('user1')}|{KEY_ID}|0000-01-01T00:00:00+00:00|{DES}|{MACKEY}".encode())
write("envelope", "material_offset",
      b"\x01" + f"{b64('张三')}|{KEY_ID}|2030-01-02T03:04:05+08:00|{DES}|{MACKEY}".encode())

# keyfile: what KeyFile::to_toml writes.
keyfile = f"""# mini-chat session key for user1. SECRET: whoever holds this file can read and forge
# this user's chat traffic until expires_at. Written by the key step; do not edit.
username = "user1"
key_id = "{KEY_ID}"
des_key = "{DES}"
mac_key = "{MACKEY}"
expires_at = "{EXPIRES}"
created_at = "{CREATED}"
server_fingerprint = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
client_fingerprint = "SHA256:uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek"
"""
write("keyfile", "valid", keyfile)
# Offsets, fractional seconds and the extremes of RFC 3339 (years 0000 and 9999) in one seed:
# libFuzzer drops seeds that add no coverage, so these must share the file with the new paths.
write("keyfile", "offsets", keyfile.replace(EXPIRES, "9999-12-31T22:59:59.999-01:00")
      .replace(CREATED, "0000-01-01T00:00:00+00:00"))

# config: the three files as the README documents them.
write("config", "server_key", 'listen = "0.0.0.0:8091"\nkey_dir = "keys"\nrsa_bits = 2048\n'
      'session_ttl_hours = 24\nregistration = "strict"\n')
write("config", "server", 'listen = "0.0.0.0:8090"\ndatabase = "sqlite://data/mini_chat.db"\n'
      'session_key_dir = "../server_key/keys/sessions"\nmax_connections = 2000\n')
write("config", "client", 'server_host = "127.0.0.1"\nchat_port = 8090\nkey_port = 8091\n'
      'username = "user1"\nlanguage = "en"\n')

# connection: first byte = chunk size and pipe capacity, then a frame stream.
stream = frame(messages["hello"]) + frame(messages["login"]) + frame(messages["pong_inner"])
write("connection", "three_frames_small_chunks", b"\x02" + stream)
write("connection", "three_frames_big_chunks", b"\xff" + stream)
write("connection", "truncated", b"\x10" + stream[:-2])
