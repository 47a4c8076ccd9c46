# Reference reader for core/tests/editorial_real.rs: every edit of every
# CMX 3600 list named on the command line, as pycmx (PyPI) reads it.
import json
import sys

import pycmx

out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        edl = pycmx.parse_cmx3600(f, tolerant=True)
    edits = []
    for event in edl.events:
        for e in event.edits:
            ch = e.channels
            edits.append({
                "line": e.line_number + 1,
                "number": event.number,
                "reel": e.source,
                "video": ch.video,
                "tracks": sorted(ch.channels),
                "transition": e.transition.transition,
                "operand": e.transition.operand,
                "source_in": e.source_in,
                "source_out": e.source_out,
                "record_in": e.record_in,
                "record_out": e.record_out,
                "clip_name": e.clip_name,
                "source_file": e.source_file,
            })
    out[path] = {"title": edl.title, "format": edl.format, "edits": edits}
json.dump(out, sys.stdout)
