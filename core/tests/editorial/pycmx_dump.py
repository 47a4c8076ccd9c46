# Reference reader for core/tests/editorial_real.rs: every edit of every
# CMX 3600 list named on the command line, as pycmx (PyPI) reads it.
import json
import sys

import pycmx
from pycmx.statements import StmtAudioExt, StmtEvent

out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        edl = pycmx.parse_cmx3600(f, tolerant=True)
    edits = []
    for event in edl.events:
        # pycmx attaches an AUD line only when it directly follows its event
        # line; Premiere writes it after the comments. Here an AUD line anywhere
        # in the event gives its tracks to the event line before it.
        extra = {}
        last = None
        for st in event.statements:
            if type(st) is StmtEvent:
                last = st.line_number
            elif type(st) is StmtAudioExt and last is not None:
                extra.setdefault(last, set()).update(
                    k for k, on in ((3, st.audio3), (4, st.audio4)) if on
                )
        for e in event.edits:
            ch = e.channels
            edits.append({
                "line": e.line_number + 1,
                "number": event.number,
                "reel": e.source,
                "video": ch.video,
                "tracks": sorted(set(ch.channels) | extra.get(e.line_number, set())),
                "transition": e.transition.transition,
                "operand": e.transition.operand,
                "source_in": e.source_in,
                "source_out": e.source_out,
                "record_in": e.record_in,
                "record_out": e.record_out,
                "clip_name": e.clip_name,
                "source_file": e.source_file,
            })
    # pycmx reads the title only from a first line "TITLE:"
    title = getattr(edl.title_statement, "title", None)
    out[path] = {"title": title, "format": edl.format, "edits": edits}
json.dump(out, sys.stdout)
