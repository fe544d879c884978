#!/usr/bin/env python3
"""gRPC peers for the HTTP/2 tests (real grpcio, cleartext).

usage: shop.py server PORT [--host IP]      serve until killed
       shop.py client PORT [N] [--host IP]  run every method N times (default 2), some
                                           with gzip, and the error cases; exits non-zero
                                           if a call misbehaves

Stubs are generated from shop.proto (next to this file) with grpc_tools.protoc into a
temporary directory at start.
"""
import importlib
import os
import sys
import tempfile
import time
from concurrent import futures

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = tempfile.mkdtemp(prefix="h2-shop-")
if protoc.main(["protoc", f"-I{HERE}", f"--python_out={GEN}", f"--grpc_python_out={GEN}",
                os.path.join(HERE, "shop.proto")]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, GEN)
pb = importlib.import_module("shop_pb2")
pbg = importlib.import_module("shop_pb2_grpc")


def item(sku):
    return pb.Item(sku=sku, name=f"item {sku}",
                   price=pb.Money(currency="EUR", units=12, nanos=500000000),
                   tags=["a", "b"], sizes=[38, 40, 42], colour=pb.RED, in_stock=True,
                   thumbnail=b"\x89PNG\x00\x01", weight=1.25, rating=4.5,
                   barcode=1234567890123, delta=-7)


class Shop(pbg.ShopServicer):
    def GetItem(self, req, ctx):
        if req.sku == "missing":
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such item")
        if req.sku == "bad":
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad sku")
        return item(req.sku)

    def ListItems(self, req, ctx):
        for i in range(max(1, min(req.page_size, 5))):
            yield item(f"sku-{i}")

    def PlaceOrder(self, lines, ctx):
        got = list(lines)
        return pb.OrderSummary(order_id=42, lines=got,
                               total=pb.Money(currency="EUR", units=len(got) * 10),
                               notes={"gift": "yes", "door": "back"})

    def Chat(self, msgs, ctx):
        for m in msgs:
            yield pb.ChatMessage(text="re: " + m.text, sent_at=int(time.time()))


HOST = sys.argv[sys.argv.index("--host") + 1] if "--host" in sys.argv else "127.0.0.1"
ARGS = [a for i, a in enumerate(sys.argv) if a != "--host" and sys.argv[i - 1] != "--host"]


def server(port):
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pbg.add_ShopServicer_to_server(Shop(), s)
    s.add_insecure_port(f"{HOST}:{port}")
    s.start()
    s.wait_for_termination()


def client(port, n):
    failures = 0
    with grpc.insecure_channel(f"{HOST}:{port}") as ch:
        stub = pbg.ShopStub(ch)
        for i in range(n):
            gz = grpc.Compression.Gzip if i % 2 else grpc.Compression.NoCompression
            r = stub.GetItem(pb.GetItemRequest(sku=f"sku-{i}"), compression=gz)
            failures += r.sku != f"sku-{i}"
            items = list(stub.ListItems(pb.ListItemsRequest(page_size=3, filter="x"),
                                        compression=gz))
            failures += len(items) != 3
            s = stub.PlaceOrder(iter([pb.OrderLine(sku="a", quantity=1),
                                      pb.OrderLine(sku="b", quantity=2)]), compression=gz)
            failures += s.order_id != 42
            out = list(stub.Chat(iter([pb.ChatMessage(text="hi", sent_at=1),
                                       pb.ChatMessage(text="there", sent_at=2)])))
            failures += len(out) != 2
        for sku, code in (("missing", grpc.StatusCode.NOT_FOUND),
                          ("bad", grpc.StatusCode.INVALID_ARGUMENT)):
            try:
                stub.GetItem(pb.GetItemRequest(sku=sku))
                failures += 1
            except grpc.RpcError as e:
                failures += e.code() != code
    if failures:
        sys.exit(f"{failures} calls misbehaved")


if __name__ == "__main__":
    if ARGS[1] == "server":
        server(int(ARGS[2]))
    else:
        client(int(ARGS[2]), int(ARGS[3]) if len(ARGS) > 3 else 2)
