#!/usr/bin/env python3
"""Matrix workload: the matrix-nio client library against a local Synapse homeserver.

    python3 workload.py --url http://127.0.0.1:PORT [--seed 8]

Users with chosen names (`@maple.dev:realeval.local`), rooms with aliases
(`#team-alpha:realeval.local`), so path ids carry sigils and colons and are percent-encoded
(`!abc:realeval.local`, `%23team-alpha%3Arealeval.local`, `$event` ids); messages with
client transaction ids, state events, invites/joins by id and by alias, typing, receipts,
read markers, redactions, context, profiles, presence, devices, media upload/download,
directory aliases, kicks/bans, leave/forget, syncs with since tokens. Seeded.
"""
import argparse
import asyncio
import random
import sys

import nio

WORDS = ["maple", "cedar", "river", "stone", "ember", "frost", "delta", "orbit", "pixel", "quartz"]
N = [0]


async def call(coro):
    N[0] += 1
    try:
        return await coro
    except Exception as e:  # the workload goes on; errors are part of real traffic
        print("workload: %s" % e, file=sys.stderr)


async def main_async(a):
    rnd = random.Random(a.seed)
    server = "realeval.local"
    users = []
    names = ["%s.%s" % (w, rnd.choice(["dev", "ops", "qa"])) for w in rnd.sample(WORDS, 6)]
    for name in names:
        c = nio.AsyncClient(a.url, name)
        r = await call(c.register(name, "pw-" + name, device_name="realeval-%s" % name))
        if not isinstance(r, nio.RegisterResponse):
            await call(c.login("pw-" + name, device_name="realeval-%s" % name))
        users.append(c)
    for c in users:
        await call(c.whoami())
        await call(c.sync(timeout=0, full_state=True))
        await call(c.set_displayname("%s %s" % (c.user.split(".")[0].title(), rnd.choice(["A.", "B.", "C."]))))
        await call(c.get_displayname())
        if rnd.random() < 0.5:
            await call(c.set_avatar("mxc://realeval.local/%s%d" % (rnd.choice(WORDS), rnd.randint(1, 99))))
        await call(c.set_presence(rnd.choice(["online", "unavailable"]), "working on %s" % rnd.choice(WORDS)))
        await call(c.devices())
        await call(c.joined_rooms())
    rooms = []  # (room_id, alias, owner)
    rnd_members = {}
    for i in range(8):
        owner = rnd.choice(users)
        alias = "team-%s-%d" % (rnd.choice(WORDS), i)
        r = await call(owner.room_create(alias=alias, name="Team %s" % alias, topic="about %s" % rnd.choice(WORDS),
                                         visibility=rnd.choice([nio.RoomVisibility.private, nio.RoomVisibility.public])))
        if isinstance(r, nio.RoomCreateResponse):
            rooms.append((r.room_id, "#%s:%s" % (alias, server), owner))
    await call(users[0].room_resolve_alias(rooms[0][1]))
    for room_id, alias, owner in rooms:
        others = [u for u in users if u is not owner]
        joined = rnd.sample(others, 3)
        for u in joined:
            await call(owner.room_invite(room_id, u.user_id))
            await call(u.join(rnd.choice([room_id, alias])))
        members = [owner] + joined
        rnd_members[room_id] = [u.user_id for u in joined]
        events = []
        for k in range(rnd.randint(6, 14)):
            u = rnd.choice(members)
            etype = rnd.choice(["m.room.message", "m.room.message", "org.realeval.ping", "m.reaction"])
            if etype == "m.reaction" and events:
                content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": rnd.choice(events), "key": "+1"}}
            elif etype == "org.realeval.ping":
                content = {"seq": k, "from": rnd.choice(WORDS)}
            else:
                etype = "m.room.message"
                content = {"msgtype": "m.text", "body": "%s %d" % (rnd.choice(WORDS), k)}
            r = await call(u.room_send(room_id, etype, content))
            if isinstance(r, nio.RoomSendResponse):
                events.append(r.event_id)
            if rnd.random() < 0.3:
                await call(u.room_typing(room_id, typing_state=rnd.random() < 0.7, timeout=3000))
        await call(owner.room_put_state(room_id, "m.room.topic", {"topic": "now %s" % rnd.choice(WORDS)}))
        await call(owner.room_put_state(room_id, "org.realeval.setting", {"level": rnd.randint(1, 9)},
                                        state_key=rnd.choice(["", "ui", "bots"])))
        await call(owner.room_get_state(room_id))
        await call(owner.room_get_state_event(room_id, "m.room.name"))
        await call(owner.room_get_state_event(room_id, "m.room.member", owner.user_id))
        await call(owner.joined_members(room_id))
        await call(owner.room_messages(room_id, start="", limit=rnd.choice([5, 10, 20])))
        if events:
            for ev in rnd.sample(events, min(3, len(events))):
                await call(owner.room_context(room_id, ev, limit=3))
                await call(owner.room_get_event(room_id, ev))
            await call(owner.room_read_markers(room_id, events[-1], events[-1]))
            await call(owner.update_receipt_marker(room_id, events[-1]))
            reader = rnd.choice(joined)
            await call(reader.update_receipt_marker(room_id, rnd.choice(events), receipt_type=nio.api.ReceiptType.read_private))
            await call(owner.room_redact(room_id, rnd.choice(events), reason="cleanup"))
        if rnd.random() < 0.5:
            victim = rnd.choice(joined)
            await call(owner.room_kick(room_id, victim.user_id, reason="test"))
            await call(owner.room_ban(room_id, victim.user_id))
            await call(owner.room_unban(room_id, victim.user_id))
    for c in users:
        await call(c.sync(timeout=0, since=c.next_batch) if c.next_batch else c.sync(timeout=0))
        await call(c.get_profile(rnd.choice(users).user_id))
        await call(c.get_presence(rnd.choice(users).user_id))
        await call(c.get_avatar())
    # media
    for c in rnd.sample(users, 3):
        data = ("realeval %s\n" % rnd.choice(WORDS)).encode()
        r = await call(c.upload(lambda *_: data, content_type="text/plain", filename="%s.txt" % rnd.choice(WORDS),
                                filesize=len(data)))
        resp = r[0] if isinstance(r, tuple) else r
        if isinstance(resp, nio.UploadResponse):
            await call(c.download(resp.content_uri))
    # leave / forget / alias removal
    for room_id, alias, owner in rooms[:3]:
        u = rnd.choice([x for x in users if x is not owner and x.user_id in (rnd_members.get(room_id) or [])] or users[:1])
        await call(u.room_leave(room_id))
        await call(u.room_forget(room_id))
        await call(owner.room_delete_alias(alias)) if hasattr(owner, "room_delete_alias") else None
    for c in users:
        await call(c.joined_rooms())
        await call(c.logout())
        await c.close()
    print("workload: %d client calls (matrix-nio)" % N[0], file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
