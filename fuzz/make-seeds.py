#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from the repository's events/*.json.

- eventbridge_event: every event whose source is aws.ssm, as is.
- interaction_payload: each Slack click's `body` (a form body, base64-decoded where
  isBase64Encoded is true), the `payload` JSON in it, and its buttons' values; plus
  one /approvals slash-command body.
- verify_signature: each click's signing secret (env.json's SLACK_SIGNING_SECRET),
  X-Slack-Request-Timestamp, X-Slack-Signature and body, in the target's layout:
  flags, an i64 (LE) `now` word, then secret\\0timestamp\\0signature\\0body.

Run from anywhere: python3 fuzz/make-seeds.py. Seeds are named by their SHA-1, as
libFuzzer names corpus files, so running it again changes nothing.
"""
import base64
import glob
import hashlib
import json
import os
import struct
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def signature_seed(flags, word, secret, ts, sig, body):
    return bytes([flags]) + struct.pack("<q", word) + b"\0".join(
        [secret, ts.encode(), sig.encode(), body])


secret = json.load(open(os.path.join(ROOT, "env.json")))["Parameters"][
    "SLACK_SIGNING_SECRET"].encode()

for path in sorted(glob.glob(os.path.join(ROOT, "events", "*.json"))):
    event = json.load(open(path))
    if event.get("source") == "aws.ssm":
        write("eventbridge_event", open(path, "rb").read())
    elif "body" in event and "headers" in event:
        body = event["body"].encode()
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        write("interaction_payload", body)
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        if "payload" in form:
            write("interaction_payload", form["payload"].encode())
            for action in json.loads(form["payload"]).get("actions", []):
                if "value" in action:
                    write("interaction_payload", action["value"].encode())
        headers = {k.lower(): v for k, v in event["headers"].items()}
        ts, sig = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
        # now relative to the timestamp, drift 0 (400 folds to 0 in -400..=400)
        write("verify_signature", signature_seed(0b011, 400, secret, ts, sig, body))
        # now absolute, 300 s after the timestamp (the window's edge)
        write("verify_signature", signature_seed(0b111, int(ts) + 300, secret, ts, sig, body))

write("interaction_payload",
      b"token=t&team_id=T0TEAM&team_domain=acme&channel_id=C0OPS&channel_name=ops"
      b"&user_id=U0ALICE&user_name=alice&command=%2Fapprovals&text=&api_app_id=A0APP"
      b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.3")
