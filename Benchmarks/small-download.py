#!/usr/bin/env python3
"""Times a 4 KiB download end to end, process start included (docs/PERFORMANCE.md, "Small files").

    python3 Benchmarks/small-download.py [--runs 41] [--size 4096] [--programs DIR] SONIC_GET [SONIC_GET ...]

Starts one sonic-index and one sonic-seed (from DIR, by default the last SONIC_GET's folder) on
loopback, sharing one file of --size random bytes, then runs
`SONIC_GET small.bin -q -o DIR/ --state-dir DIR` --runs times for each binary given, the
binaries alternating, and prints the median, lower quartile and minimum of the wall time
around each run (`subprocess.run`). Giving an old and a new sonic-get compares them under the
same load. Every process it starts is stopped by its PID; everything stays on 127.0.0.1.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"small-download: timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="+", help="sonic-get executables to time")
    parser.add_argument("--runs", type=int, default=41)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--programs", help="folder of sonic-index, sonic-seed and sonic-search")
    options = parser.parse_args()
    programs = options.programs or os.path.dirname(os.path.abspath(options.binaries[-1]))
    work = tempfile.mkdtemp(prefix="sonic-small-")
    share, out = os.path.join(work, "share"), os.path.join(work, "out")
    os.makedirs(share)
    os.makedirs(out)
    with open(os.path.join(share, "small.bin"), "wb") as f:
        f.write(os.urandom(options.size))
    started = []
    try:
        index_log = open(os.path.join(work, "index.out"), "w+")
        started.append(subprocess.Popen(
            [os.path.join(programs, "sonic-index"), "--port", "0", "--host", "127.0.0.1",
             "--state-dir", os.path.join(work, "index-state")],
            stdout=index_log, stderr=subprocess.DEVNULL))

        def index_address():
            index_log.seek(0)
            found = re.search(r"127\.0\.0\.1:\d+", index_log.read())
            return found.group(0) if found else None

        address = wait_for(index_address, 20, "the index's address")
        started.append(subprocess.Popen(
            [os.path.join(programs, "sonic-seed"), share, "--port", "0", "--host", "127.0.0.1", "--index", address,
             "--state-dir", os.path.join(work, "seed-state")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        env = dict(os.environ, SONIC_INDEX=address)

        def shared():
            search = subprocess.run([os.path.join(programs, "sonic-search"), "small.bin"], env=env,
                                    capture_output=True, text=True, timeout=10)
            return "small.bin" in search.stdout

        wait_for(shared, 20, "the seeder's registration")
        times = {binary: [] for binary in options.binaries}
        state = os.path.join(work, "get-state")
        # A timeout on each run would make subprocess poll for the exit (sleeps of up to 50 ms,
        # which the times would include); one alarm bounds the whole loop instead.
        def out_of_time(signum, frame):
            raise TimeoutError("the runs took longer than 30 s each")

        signal.signal(signal.SIGALRM, out_of_time)
        signal.alarm(30 * options.runs * len(options.binaries))
        for run in range(options.runs):
            order = options.binaries if run % 2 == 0 else options.binaries[::-1]
            for binary in order:
                began = time.perf_counter()
                done = subprocess.run([binary, "small.bin", "-q", "-o", out + "/", "--state-dir", state],
                                      env=env)
                times[binary].append((time.perf_counter() - began) * 1000)
                if done.returncode != 0:
                    sys.exit(f"small-download: {binary} exited with {done.returncode}")
                os.remove(os.path.join(out, "small.bin"))
        signal.alarm(0)
        for binary, measured in times.items():
            measured.sort()
            print(f"{binary}: median {statistics.median(measured):.1f} ms, "
                  f"p25 {measured[len(measured) // 4]:.1f} ms, min {measured[0]:.1f} ms ({len(measured)} runs)")
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
