"""bench_vics: MB/s of reading a national-size VICS document, bounded against unbounded.

Generates its own flat VICS 2.0 set (no real data: random digests, ~1 KB records as in case
exports), then reads every Media record as a Python dict, best of --repeat:

  bounded     ``kaitiaki.content.boundedjson.iter_records`` (bounded scanner + CPython json),
              what ``hashsets.vics`` imports with
  ijson       ``ijson.items(..., "value.item")`` on the yajl2_c backend: what the importer used
              before; unbounded (a 5,001-digit integer crashes it with SIGSEGV)
  json.load   the whole document at once: the practical speed limit, in memory it cannot
              have for a multi-GB set
  import      ``iter_vics_file``: the bounded read plus building and checking each entry
  import_old  the same entries from ``ijson.items`` over the same ``SourceFile``: the
              importer before the bounds

The last line sums it up: bounded_mb_s=X ijson_mb_s=Y ratio=R json_load_mb_s=Z import_mb_s=W
import_old_mb_s=V import_ratio=Q

    uv run python benchmarks/bench_vics.py [--mb 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def generate(path: Path, target: int) -> int:
    rnd = random.Random(7)
    comment = "synthetic examiner note; " * 16
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"@odata.context":"' + CONTEXT + '","value":[')
        while out.tell() < target:
            count += 1
            pdna = base64.b64encode(rnd.randbytes(144)).decode("ascii")
            record = {
                "MediaID": count,
                "Category": count % 5,
                "MD5": f"{rnd.getrandbits(128):032X}",
                "SHA1": f"{rnd.getrandbits(160):040X}",
                "PhotoDNA": pdna,
                "VictimIdentified": count % 9 != 0,
                "IsDistributed": False,
                "Series": f"synthetic-{count % 97}",
                "MediaSize": rnd.randrange(1, 1 << 30),
                "DateUpdated": "2024-01-02T03:04:05Z",
                "MimeType": "image/jpeg",
                "MediaFiles": [{"FileName": f"f{count}.jpg", "FilePath": f"C:\\x\\f{count}.jpg"}],
                "AlternativeHashes": [
                    {"HashName": "SHA256", "HashValue": f"{rnd.getrandbits(256):064X}"}
                ],
                "Comments": comment,
            }
            out.write(("," if count > 1 else "") + "\n" + json.dumps(record))
        out.write("\n]}")
    return count


def best(run: Callable[[], int], repeat: int, expected: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert run() == expected
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import ijson

    from kaitiaki.content.boundedjson import ANY_ITEM, iter_records
    from kaitiaki.hashsets.source import SourceFile
    from kaitiaki.hashsets.vics import iter_vics_file, media_to_entry

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "national.json"
        count = generate(path, args.mb << 20)
        mb = path.stat().st_size / 2**20
        print(f"{count} records, {mb:.0f} MiB, ijson backend {ijson.backend}")

        def bounded() -> int:
            with path.open("rb") as stream:
                return sum(1 for _ in iter_records(stream, ("value", ANY_ITEM)))

        def unbounded() -> int:
            with path.open("rb") as stream:
                return sum(1 for _ in ijson.items(stream, "value.item", use_float=True))

        def whole() -> int:
            with path.open("rb") as stream:
                return len(json.load(stream)["value"])

        def entries() -> int:
            return sum(1 for _ in iter_vics_file(path))

        def entries_old() -> int:
            # As the importer read before: through SourceFile (digest, progress), one by one.
            with SourceFile(path) as source:
                count = 0
                for record in ijson.items(source, "value.item", use_float=True):
                    media_to_entry(record)
                    count += 1
                return count

        figures = {}
        for name, run in (
            ("bounded", bounded),
            ("ijson", unbounded),
            ("json_load", whole),
            ("import", entries),
            ("import_old", entries_old),
        ):
            seconds = best(run, args.repeat, count)
            figures[name] = mb / seconds
            print(f"{name:10s} {seconds:7.2f} s  {figures[name]:7.1f} MiB/s")
    print(
        f"bounded_mb_s={figures['bounded']:.1f} ijson_mb_s={figures['ijson']:.1f}"
        f" ratio={figures['bounded'] / figures['ijson']:.2f}"
        f" json_load_mb_s={figures['json_load']:.1f} import_mb_s={figures['import']:.1f}"
        f" import_old_mb_s={figures['import_old']:.1f}"
        f" import_ratio={figures['import'] / figures['import_old']:.2f}"
    )


if __name__ == "__main__":
    main()
