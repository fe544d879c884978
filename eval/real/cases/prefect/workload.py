#!/usr/bin/env python3
"""Prefect workload: Prefect's own Python client (`prefect.get_client`) against a local
Prefect server (FastAPI).

    PREFECT_API_URL=http://127.0.0.1:PORT/api python3 workload.py [--seed 8]

Flows, deployments and flow runs by UUID and by name (`/flows/name/{name}`,
`/deployments/name/{flow}/{deployment}`), the static routes beside ids (`/flows/filter`,
`/deployments/filter`, `/flow_runs/filter`, `/work_pools/filter`, `/logs/filter`,
`/deployments/{id}/create_flow_run`, `/flow_runs/{id}/set_state`), work pools and queues
with user-chosen names, variables by name, concurrency limits by tag, logs, artifacts.
Seeded.
"""
import argparse
import asyncio
import random
import sys
from datetime import datetime, timezone

from prefect import get_client
from prefect.client.schemas.actions import (ArtifactCreate, VariableCreate, VariableUpdate,
                                            WorkPoolCreate, WorkPoolUpdate)
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter
from prefect.states import Cancelled, Completed, Failed, Running

WORDS = ["etl", "ingest", "billing", "report", "sync", "cleanup", "train", "score", "backup", "notify"]
N = [0]


async def call(coro):
    N[0] += 1
    try:
        return await coro
    except Exception as e:  # errors are part of real traffic
        print("workload: %s: %s" % (type(e).__name__, str(e)[:150]), file=sys.stderr)


async def main_async(a):
    rnd = random.Random(a.seed)
    async with get_client() as c:
        await call(c.api_healthcheck())
        await call(c.hello())
        pools = []
        for i in range(4):
            name = "%s-pool-%d" % (rnd.choice(WORDS), i)
            await call(c.create_work_pool(WorkPoolCreate(name=name, type="process", description="pool %d" % i)))
            pools.append(name)
            for q in rnd.sample(["default-q", "high", "low", "gpu"], 2):
                await call(c.create_work_queue(name="%s-%s" % (name, q), work_pool_name=name))
        await call(c.read_work_pools())
        for p in pools:
            await call(c.read_work_pool(p))
            await call(c.read_work_queues(work_pool_name=p))
            await call(c.update_work_pool(p, WorkPoolUpdate(description="updated %s" % rnd.choice(WORDS))))
        flows = {}
        for i in range(8):
            name = "%s-%s" % (rnd.choice(WORDS), rnd.choice(["daily", "hourly", "adhoc", "v2"]))
            fid = await call(c.create_flow_from_name(name))
            if fid:
                flows[name] = fid
        await call(c.read_flows())
        await call(c.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=list(flows)[:3]))))
        deployments = []
        for name, fid in flows.items():
            await call(c.read_flow(fid))
            await call(c.read_flow_by_name(name))
            for d in rnd.sample(["prod", "staging", "nightly", "backfill"], rnd.randint(1, 2)):
                did = await call(c.create_deployment(flow_id=fid, name=d, work_pool_name=rnd.choice(pools),
                                                     tags=rnd.sample(WORDS, 2), parameters={"n": rnd.randint(1, 9)}))
                if did:
                    deployments.append((name, d, did))
        await call(c.read_deployments())
        runs = []
        for name, d, did in deployments:
            await call(c.read_deployment(did))
            await call(c.read_deployment_by_name("%s/%s" % (name, d)))
            for k in range(rnd.randint(1, 3)):
                fr = await call(c.create_flow_run_from_deployment(did, parameters={"n": k}, tags=[rnd.choice(WORDS)]))
                if fr is not None:
                    runs.append(fr.id)
        await call(c.read_flow_runs())
        await call(c.read_flow_runs(flow_run_filter=FlowRunFilter(id={"any_": runs[:5]})))
        for rid in runs:
            await call(c.read_flow_run(rid))
            if rnd.random() < 0.7:
                await call(c.set_flow_run_state(rid, Running()))
                await call(c.create_logs([{"flow_run_id": str(rid), "name": "prefect.flow_runs", "level": 20,
                                           "message": "step %d" % k, "timestamp": datetime.now(timezone.utc).isoformat()}
                                          for k in range(rnd.randint(1, 4))]))
                await call(c.set_flow_run_state(rid, rnd.choice([Completed(), Failed(), Cancelled()]), force=True))
        await call(c.read_logs(limit=20))
        for i in range(6):
            name = "%s_%s_%d" % (rnd.choice(WORDS), rnd.choice(["url", "token_ttl", "batch_size"]), i)
            await call(c.create_variable(VariableCreate(name=name, value=rnd.choice([str(rnd.randint(1, 99)), "on", "s3://bucket/x"]),
                                                        tags=[rnd.choice(WORDS)])))
            await call(c.read_variable_by_name(name))
            if rnd.random() < 0.5:
                await call(c.update_variable(VariableUpdate(name=name, value="changed")))
            if rnd.random() < 0.4:
                await call(c.delete_variable_by_name(name))
        await call(c.read_variable_by_name("does_not_exist"))
        for tag in rnd.sample(WORDS, 5):
            await call(c.create_concurrency_limit(tag=tag, concurrency_limit=rnd.randint(1, 10)))
            await call(c.read_concurrency_limit_by_tag(tag))
            if rnd.random() < 0.5:
                await call(c.delete_concurrency_limit_by_tag(tag))
        for rid in runs[:6]:
            await call(c.create_artifact(ArtifactCreate(key="%s-summary" % rnd.choice(WORDS), type="markdown",
                                                        data="# done", flow_run_id=rid)))
        await call(c.read_artifacts())
        # teardown
        for rid in runs[: len(runs) // 2]:
            await call(c.delete_flow_run(rid))
        for name, d, did in deployments[: len(deployments) // 2]:
            await call(c.delete_deployment(did))
        for name, fid in list(flows.items())[:3]:
            await call(c.delete_flow(fid))
        await call(c.delete_work_pool(pools[0]))
        await call(c.read_work_pool(pools[0]))  # 404
    print("workload: %d client calls (prefect client)" % N[0], file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
