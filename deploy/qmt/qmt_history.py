"""Vendor history from QMT (xtquant) for tickbar: downloads 1/5/15/30/60-minute bars and either
writes them as JSON lines for ``producer import-history`` (recommended: it normalises the layout,
checks every bar and reports what it refused) or LPUSHes them onto ``historical_bar_data_{N}min``.

Bars are the contract's bar objects: ``frame`` is QMT's bar time in Asia/Shanghai, ``vol`` in
shares (QMT's lots x 100), prices and amount as QMT gives them.

    pip install redis
    python qmt_history.py --codes 600519.SH,000333.SZ --start 20231101 --end 20231130 --out bars_{period}.jsonl
    producer import-history --file bars_1.jsonl --period 1
  or
    python qmt_history.py --codes ... --start ... --end ... --redis-url redis://tickbar-redis:6379/0
  (a rediss:// URL takes --tls-ca, --tls-cert and --tls-key as qmt_bridge.py does)
"""

import argparse
import datetime
import json

from qmt_bridge import add_sentinel_arguments, add_tls_arguments, connect, sentinel_options, tls_options

QMT_PERIODS = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h"}
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def bar_objects(code, frame):
    """The contract's bar objects of one symbol's QMT bar table (``get_market_data_ex`` frame)."""
    for row in frame.itertuples():
        at = datetime.datetime.fromtimestamp(int(row.time) / 1000, SHANGHAI)
        yield {
            "symbol": code.upper(),
            "frame": at.strftime("%Y-%m-%d %H:%M:%S"),
            "open": str(row.open),
            "high": str(row.high),
            "low": str(row.low),
            "close": str(row.close),
            "vol": int(row.volume) * 100,
            "amount": str(row.amount),
        }


def download(xtdata, codes, period, start, end):
    """Every bar of ``codes`` for ``period`` minutes between the two YYYYMMDD dates."""
    qmt = QMT_PERIODS[period]
    for code in codes:
        xtdata.download_history_data(code, period=qmt, start_time=start, end_time=end)
    data = xtdata.get_market_data_ex([], codes, period=qmt, start_time=start, end_time=end)
    for code in codes:
        if code in data:
            yield from bar_objects(code, data[code])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", required=True, help="comma-separated, e.g. 600519.SH,000333.SZ")
    parser.add_argument("--start", required=True, help="YYYYMMDD")
    parser.add_argument("--end", required=True, help="YYYYMMDD")
    parser.add_argument("--periods", default="1,5,15,30,60")
    parser.add_argument("--out", help="write JSON lines to this path ({period} is replaced)")
    parser.add_argument("--redis-url", help="LPUSH onto the historical queues of this Redis instead")
    parser.add_argument("--key-prefix", default="", help="redis.key_prefix of the deployment")
    add_tls_arguments(parser)
    add_sentinel_arguments(parser)
    args = parser.parse_args()
    if bool(args.out) == bool(args.redis_url):
        parser.error("give exactly one of --out and --redis-url")
    tls = tls_options(args) if args.redis_url else {}

    from xtquant import xtdata

    codes = args.codes.split(",")
    client = None
    sentinel = sentinel_options(args)
    if args.redis_url:
        client = connect(args.redis_url, tls, sentinel)
    for period in (int(p) for p in args.periods.split(",")):
        bars = [json.dumps(b, separators=(",", ":")) for b in download(xtdata, codes, period, args.start, args.end)]
        if client is not None:
            queue = f"{args.key_prefix}historical_bar_data_{period}min"
            for i in range(0, len(bars), 5000):
                pipe = client.pipeline(transaction=False)
                pipe.lpush(queue, *bars[i : i + 5000])
                if sentinel.wait_replicas:
                    pipe.execute_command("WAIT", sentinel.wait_replicas, sentinel.wait_timeout_ms)
                pipe.execute()
            print(f"{len(bars)} bars of {period} min pushed to {queue}")
        else:
            path = args.out.replace("{period}", str(period))
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in bars)
            print(f"{len(bars)} bars of {period} min written to {path}")


if __name__ == "__main__":
    main()
