#!/usr/bin/env python3
"""Writes the small captures under this directory with scapy (an independent packet
builder: the bytes do not come from apitap's own code). Run from this directory:

    pip install scapy && python3 gen.py

Each capture holds one HTTP/1.1 exchange (GET /a → 200 "hi") on one TCP connection,
complete with handshake and FINs, wrapped as the file name says. `engine/tests/captures.rs`
reads them."""

from scapy.all import (Ether, IP, TCP, UDP, GRE, Raw, wrpcap, RadioTap, Dot11,
                       Dot11QoS, LLC, SNAP)
from scapy.layers.vxlan import VXLAN
from scapy.contrib.geneve import GENEVE
from scapy.contrib.erspan import ERSPAN_I, ERSPAN_II, ERSPAN_III

CLI, SRV = "10.1.0.1", "10.2.0.2"
REQ = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


def tcp_conv(sport=40000, dport=80, cisn=1000, sisn=5000, client_payload=REQ,
             server_payload=RESP):
    """IP/TCP packets of one connection: handshake, request, response, FINs, last ACK."""
    c, s = cisn, sisn
    up = lambda **k: IP(src=CLI, dst=SRV) / TCP(sport=sport, dport=dport, **k)
    down = lambda **k: IP(src=SRV, dst=CLI) / TCP(sport=dport, dport=sport, **k)
    pkts = [up(flags="S", seq=c), down(flags="SA", seq=s, ack=c + 1),
            up(flags="A", seq=c + 1, ack=s + 1)]
    c += 1
    s += 1
    pkts.append(up(flags="PA", seq=c, ack=s) / Raw(client_payload))
    c += len(client_payload)
    pkts.append(down(flags="PA", seq=s, ack=c) / Raw(server_payload))
    s += len(server_payload)
    pkts.append(up(flags="FA", seq=c, ack=s))
    pkts.append(down(flags="FA", seq=s, ack=c + 1))
    pkts.append(up(flags="A", seq=c + 1, ack=s + 1))
    return pkts


def timed(frames):
    for i, f in enumerate(frames):
        f.time = 1_700_000_000 + i * 0.001
    return frames


def outer(inner, proto_layer):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
        IP(src="192.0.2.1", dst="192.0.2.2") / proto_layer / inner


def eth(p):
    return Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / p


conv = tcp_conv()

# Both FINs seen, the client's last ACK lost: the server retransmits its response and FIN.
fin = [eth(p) for p in conv[:-1]]
resp_pkt = conv[4]
fin += [eth(resp_pkt.copy()), eth(conv[6].copy()), eth(conv[-1])]
# The client retransmits its request too.
fin.append(eth(conv[3].copy()))
wrpcap("fin_retransmit.pcap", timed(fin))

wrpcap("vxlan.pcap", timed([outer(eth(p), UDP(sport=50000, dport=4789) / VXLAN(vni=42))
                            for p in conv]))
wrpcap("geneve.pcap", timed([outer(eth(p), UDP(sport=50000, dport=6081) /
                                   GENEVE(vni=7, proto=0x6558)) for p in conv]))
wrpcap("erspan1.pcap", timed([outer(eth(p), GRE(proto=0x88be) / ERSPAN_I()) for p in conv]))
wrpcap("erspan2.pcap", timed([outer(eth(p), GRE(proto=0x88be, seqnum_present=1, seqence_number=i)
                                    / ERSPAN_II(session_id=3))
                              for i, p in enumerate(conv)]))
wrpcap("erspan3.pcap", timed([outer(eth(p), GRE(proto=0x22eb, seqnum_present=1, seqence_number=i)
                                    / ERSPAN_III(session_id=3))
                              for i, p in enumerate(conv)]))


def wifi(p, to_ap):
    fc = "to_DS" if to_ap else "from_DS"
    a = ("02:00:00:00:00:aa", "02:00:00:00:00:0a", "02:00:00:00:00:0b")
    return RadioTap() / Dot11(type=2, subtype=8, FCfield=fc, addr1=a[0], addr2=a[1],
                              addr3=a[2]) / Dot11QoS() / LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / \
        SNAP(OUI=0, code=0x0800) / p


wrpcap("wifi_radiotap.pcap", timed([wifi(p, p[IP].src == CLI) for p in conv]))

# SOCKS 5 (no authentication) then HTTP, and SOCKS 4a then HTTP, on port 1080.
socks5_c = b"\x05\x01\x00" + b"\x05\x01\x00\x03\x01h\x00\x50" + REQ
socks5_s = b"\x05\x00" + b"\x05\x00\x00\x01\x0a\x02\x00\x02\x00\x50" + RESP
wrpcap("socks5.pcap", timed([eth(p) for p in tcp_conv(dport=1080, client_payload=socks5_c,
                                                       server_payload=socks5_s)]))
socks4a_c = b"\x04\x01\x00\x50\x00\x00\x00\x01user\x00h\x00" + REQ
socks4a_s = b"\x00\x5a\x00\x00\x00\x00\x00\x00" + RESP
wrpcap("socks4a.pcap", timed([eth(p) for p in tcp_conv(dport=1080, client_payload=socks4a_c,
                                                        server_payload=socks4a_s)]))

# TLS only (a ClientHello and ServerHello record start): no HTTP to find.
hello_c = b"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
hello_s = b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03" + bytes(32) + b"\x00\x13\x01\x00"
wrpcap("tls.pcap", timed([eth(p) for p in tcp_conv(dport=443, client_payload=hello_c,
                                                    server_payload=hello_s)]))
