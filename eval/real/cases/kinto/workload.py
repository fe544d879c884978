#!/usr/bin/env python3
"""Kinto workload: the official `kinto-http` Python client against a local Kinto server.

    python3 workload.py --server http://127.0.0.1:PORT/v1 [--seed 8]

Accounts with user-chosen names, buckets/collections/groups with user-chosen ids, records with
server-generated UUIDs and with client-chosen ids, batches, permissions, history, the
`default` bucket beside named ones, conflicts and 404s. Seeded.
"""
import argparse
import random
import sys

import kinto_http
from kinto_http import Client
from kinto_http.exceptions import KintoException

WORDS = ["alpha", "bravo", "maple", "cedar", "river", "stone", "ember", "frost", "delta", "orbit",
         "pixel", "quartz", "sable", "tundra", "violet", "willow"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n = [0]

    def safe(f, *args, **kw):
        n[0] += 1
        try:
            return f(*args, **kw)
        except KintoException as e:
            return None

    def account(client, method, user=None, data=None):
        # kinto-http has no accounts helpers: the client's own session speaks the accounts API
        path = "/accounts" + ("/" + user if user else "")
        return safe(client.session.request, method, path, data=data)

    anon = Client(server_url=a.server)
    safe(anon.server_info)
    # accounts: the administrator and a few users with chosen names
    account(anon, "put", "admin", {"password": "s3cret-admin"})
    users = ["admin"]
    for w in rnd.sample(WORDS, 6):
        name = "%s.%s" % (w, rnd.choice(["dev", "ops", "qa"]))
        account(anon, "put", name, {"password": "pw-" + w})
        users.append(name)
    admin = Client(server_url=a.server, auth=("admin", "s3cret-admin"))
    safe(admin.server_info)
    account(admin, "get")
    for u in users[1:4]:
        account(admin, "get", u)
        account(admin, "patch", u, {"team": rnd.choice(WORDS)})
    # buckets with user-chosen ids, collections, groups
    buckets = []
    for i in range(5):
        bid = "%s-%s" % (rnd.choice(WORDS), rnd.choice(["prod", "staging", "lab", "2024"]))
        if bid in buckets:
            continue
        safe(admin.create_bucket, id=bid, data={"title": bid.title()}, if_not_exists=True)
        buckets.append(bid)
    safe(admin.get_buckets)
    for bid in buckets:
        safe(admin.get_bucket, id=bid)
        colls = []
        for j in range(rnd.randint(2, 4)):
            cid = rnd.choice(["articles", "tasks", "settings", "users", "events", "notes", "assets"]) + (
                "" if rnd.random() < 0.6 else "_%d" % j)
            if cid in colls:
                continue
            safe(admin.create_collection, id=cid, bucket=bid, data={"kind": cid}, if_not_exists=True)
            colls.append(cid)
        safe(admin.get_collections, bucket=bid)
        gid = "%s-editors" % rnd.choice(WORDS)
        members = ["account:%s" % u for u in rnd.sample(users, 2)]
        safe(admin.create_group, id=gid, bucket=bid, data={"members": members}, if_not_exists=True)
        safe(admin.get_groups, bucket=bid)
        safe(admin.get_group, id=gid, bucket=bid)
        safe(admin.patch_group, id=gid, bucket=bid, data={"members": members + ["account:admin"]})
        for cid in colls:
            safe(admin.get_collection, id=cid, bucket=bid)
            ids = []
            for k in range(rnd.randint(4, 12)):
                data = {"title": "%s %d" % (rnd.choice(WORDS), k), "done": rnd.random() < 0.5,
                        "priority": rnd.randint(1, 5), "tags": rnd.sample(WORDS, rnd.randint(0, 3))}
                if rnd.random() < 0.3:
                    rid = "%s-%d" % (rnd.choice(WORDS), rnd.randint(1, 999))
                    r = safe(admin.create_record, id=rid, data=data, bucket=bid, collection=cid, if_not_exists=True)
                else:
                    r = safe(admin.create_record, data=data, bucket=bid, collection=cid)
                if r:
                    ids.append(r["data"]["id"])
            safe(admin.get_records, bucket=bid, collection=cid)
            safe(admin.get_records, bucket=bid, collection=cid, _sort="-last_modified", _limit=3)
            safe(admin.get_records_timestamp, bucket=bid, collection=cid)
            for rid in rnd.sample(ids, min(len(ids), 5)):
                safe(admin.get_record, id=rid, bucket=bid, collection=cid)
                op = rnd.random()
                if op < 0.4:
                    safe(admin.patch_record, id=rid, data={"done": True}, bucket=bid, collection=cid)
                elif op < 0.6:
                    safe(admin.update_record, id=rid, data={"title": "replaced", "priority": 0},
                         bucket=bid, collection=cid)
                elif op < 0.8:
                    safe(admin.delete_record, id=rid, bucket=bid, collection=cid)
                    safe(admin.get_record, id=rid, bucket=bid, collection=cid)  # 404
            with admin.batch(bucket=bid, collection=cid) as batch:
                for k in range(rnd.randint(2, 6)):
                    batch.create_record(data={"title": "batched %d" % k, "priority": k})
            if rnd.random() < 0.3:
                safe(admin.delete_records, bucket=bid, collection=cid)
        safe(admin.get_history, bucket=bid)
        safe(admin.get_history, bucket=bid, resource_name="record", _limit=5)
        safe(admin.patch_bucket, id=bid, permissions={"read": ["system.Authenticated"]})
    # users read and write where allowed (and are refused elsewhere)
    for u in users[1:]:
        c = Client(server_url=a.server, auth=(u, "pw-" + u.split(".")[0]))
        safe(c.server_info)
        account(c, "get", u)
        safe(c.get_permissions)
        for bid in rnd.sample(buckets, 2):
            safe(c.get_bucket, id=bid)
            safe(c.get_collections, bucket=bid)
            safe(c.create_collection, id="private", bucket=bid)  # 403
        d = Client(server_url=a.server, auth=(u, "pw-" + u.split(".")[0]), bucket="default")
        safe(d.get_bucket, id="default")
        safe(d.create_collection, id="mine", bucket="default", if_not_exists=True)
        for k in range(rnd.randint(1, 4)):
            safe(d.create_record, data={"note": rnd.choice(WORDS), "n": k}, bucket="default", collection="mine")
        safe(d.get_records, bucket="default", collection="mine")
    # teardown
    for bid in buckets:
        if rnd.random() < 0.5:
            safe(admin.delete_collections, bucket=bid)
        safe(admin.delete_bucket, id=bid)
        safe(admin.get_bucket, id=bid)  # 403/404 after delete
    for u in users[1:3]:
        account(admin, "delete", u)
    print("workload: %d client calls (kinto-http %s)" % (n[0], kinto_http.__version__ if hasattr(kinto_http, "__version__") else "?"),
          file=sys.stderr)


if __name__ == "__main__":
    main()
