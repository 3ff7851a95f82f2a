"""App start-up time to the first answer: `python app.py` from cold, then one identify.

    python -m bench.startup [--gallery DIR] [--starts 3] [--json out.json]

End to end: starts `python app.py --gallery G --port P` as a subprocess, polls
http://127.0.0.1:P/ until the page is served, then asks as the page does, through
gradio_client: the query photo dropped (its upload event, which also looks for the head), then
Identify. The first answer is the time from starting the process to Identify's reply; a second
Identify in the same process is the warm time, and the app's resident memory is read then.
Each of `--starts` runs is a fresh process.

Split: a fresh process then does the same start-up in-process (no server) and times each
part: imports (app.py: Gradio and the package), loading the encoder and the head finder,
opening the gallery, building the UI, the first identify (cold onnxruntime) and a second.

Without --gallery, turtle-profiles-dev (63 photos) is enrolled into a temporary gallery first
(not timed). The page cache is warm after the first start: these are warm-disk figures.
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import DATA, finish, machine, table

QUERY = DATA / "turtle-profiles-dev" / "images" / "leftIMG_0328.jpg"  # 2048x1365 grey JPEG
SERVE_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoints(client) -> tuple[str, str, list]:
    """The query photo's upload event, Identify, and Identify's arguments (its defaults).

    Gradio names events after their handlers ("/dropped", "/dropped_2", ...): the query
    photo's upload is the one with one Image parameter that fills the outputs Identify fills.
    """
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    identify = api["/identify"]
    drops = [
        name
        for name, e in api.items()
        if name.startswith("/dropped")
        and [p["component"] for p in e["parameters"]] == ["Image"]
        and len(e["returns"]) == len(identify["returns"])
    ]
    if not drops:
        raise SystemExit(f"no upload event of the query photo among {sorted(api)}")
    arguments = [
        p["parameter_default"] if p["parameter_has_default"] else "" for p in identify["parameters"]
    ]
    return drops[0], "/identify", arguments


def start_and_answer(gallery: Path) -> dict:
    """One cold start of app.py to its first identify, and a warm identify after it."""
    from gradio_client import Client, handle_file

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "app.py", "--gallery", str(gallery), "--port", str(port)]
    t0 = time.perf_counter()
    app = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if app.poll() is not None:
                raise SystemExit(f"app.py exited with {app.returncode}: {app.stderr.read()}")
            if time.perf_counter() - t0 > SERVE_TIMEOUT_S:
                raise SystemExit(f"app.py did not serve {url} within {SERVE_TIMEOUT_S} s")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        served = time.perf_counter() - t0
        client = Client(url, verbose=False)
        drop, identify, arguments = endpoints(client)
        t1 = time.perf_counter()
        client.predict(handle_file(str(QUERY)), api_name=drop)
        t2 = time.perf_counter()
        client.predict(*arguments, api_name=identify)
        first = time.perf_counter() - t0
        t3 = time.perf_counter()
        client.predict(*arguments, api_name=identify)
        warm = time.perf_counter() - t3
        memory = process_memory_mb(app.pid)
    finally:
        app.terminate()
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    return {
        "served_s": round(served, 2),
        "drop_s": round(t2 - t1, 2),
        "first_answer_s": round(first, 2),
        "warm_identify_s": round(warm, 2),
        **memory,
    }


def process_memory_mb(pid: int) -> dict:
    """Resident memory of a running process now and at its highest, MiB (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024)
    return {"app_rss_mb": fields["VmRSS"], "app_peak_rss_mb": fields["VmHWM"]}


def split(gallery: Path) -> dict:
    """In this fresh process: app.py's start-up, part by part, without the server."""
    t0 = time.perf_counter()
    import app  # Gradio, the package, and the switches app.py sets before them
    from turtle_id.encoder import Encoder
    from turtle_id.gallery import Gallery
    from turtle_id.head_finder import HeadFinder
    from turtle_id.settings import MatchSettings, default_encoder_path, default_head_finder_path

    t1 = time.perf_counter()
    encoder = Encoder(default_encoder_path())
    finder = HeadFinder(default_head_finder_path())
    t2 = time.perf_counter()
    opened = Gallery(gallery, encoder, MatchSettings(), head_finder=finder)
    t3 = time.perf_counter()
    app.build_ui(opened)
    t4 = time.perf_counter()
    opened.identify(QUERY)
    t5 = time.perf_counter()
    opened.identify(QUERY)
    t6 = time.perf_counter()
    return {
        "imports_s": round(t1 - t0, 2),
        "models_s": round(t2 - t1, 2),
        "gallery_open_s": round(t3 - t2, 2),
        "ui_build_s": round(t4 - t3, 2),
        "first_identify_s": round(t5 - t4, 2),
        "second_identify_s": round(t6 - t5, 2),
    }


def enrolled_gallery(folder: Path) -> Path:
    from turtle_id.datasets import read_collection
    from turtle_id.encoder import Encoder
    from turtle_id.gallery import Gallery
    from turtle_id.head_finder import HeadFinder
    from turtle_id.settings import default_encoder_path, default_head_finder_path

    root = folder / "gallery"
    finder = HeadFinder(default_head_finder_path())
    gallery = Gallery(root, Encoder(default_encoder_path()), head_finder=finder)
    print(gallery.enrol(read_collection(DATA / "turtle-profiles-dev").records).line(), flush=True)
    gallery.close()
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, help="default: turtle-profiles-dev, enrolled")
    parser.add_argument("--starts", type=int, default=3, help="cold starts of app.py")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.split:
        print(json.dumps(split(args.gallery)))
        return
    figures = {"machine": machine(), "query": QUERY.name}
    with tempfile.TemporaryDirectory() as folder:
        gallery = args.gallery or enrolled_gallery(Path(folder))
        runs = []
        for _ in range(args.starts):
            runs.append(start_and_answer(gallery))
            print(f"app.py: {runs[-1]}", flush=True)
        t0 = time.perf_counter()
        child = [sys.executable, "-m", "bench.startup", "--split", "--gallery", str(gallery)]
        answer = subprocess.run(child, check=True, capture_output=True, text=True)
        parts = json.loads(answer.stdout.strip().splitlines()[-1])
        parts["process_s"] = round(time.perf_counter() - t0, 2)  # with interpreter start, exit
        print(f"in-process: {parts}", flush=True)
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    figures |= {"app_starts": runs, "app_median": median, "in_process": parts}
    print(f"\napp.py from cold, median of {args.starts} starts (seconds)")
    print(table([median]))
    print("\nthe same start-up in one process, part by part (seconds)")
    print(table([parts]))
    finish(figures, args.json)


if __name__ == "__main__":
    main()
