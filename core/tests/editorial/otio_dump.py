# Reference reader for core/tests/editorial_real.rs and conform_otio.rs: every
# clip and every transition of every track of the OTIO files named on the
# command line, as OpenTimelineIO (PyPI) reads them, in frames at the given
# rate (a transition's range is from in_offset before its cut to out_offset
# after it).
import json
import sys

import opentimelineio as otio

rate = float(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    try:
        tl = otio.adapters.read_from_file(path)
    except otio.exceptions.OTIOError as e:
        # e.g. a schema version newer than this OpenTimelineIO knows
        out[path] = {"error": str(e)}
        continue
    start = tl.global_start_time.rescaled_to(rate).value if tl.global_start_time else 0
    clips = []
    transitions = []
    for ti, track in enumerate(tl.tracks):
        if not isinstance(track, otio.schema.Track):
            continue
        for item in track:
            if isinstance(item, otio.schema.Transition):
                rip = item.range_in_parent()
                transitions.append({
                    "track": ti + 1,
                    "kind": track.kind,
                    "record_in": round(start + rip.start_time.rescaled_to(rate).value),
                    "duration": round(rip.duration.rescaled_to(rate).value),
                    "in_offset": round(item.in_offset.rescaled_to(rate).value),
                    "out_offset": round(item.out_offset.rescaled_to(rate).value),
                })
            if not isinstance(item, otio.schema.Clip):
                continue
            rip = item.range_in_parent()
            src = item.trimmed_range()
            clips.append({
                "track": ti + 1,
                "kind": track.kind,
                "name": item.name,
                "record_in": round(start + rip.start_time.rescaled_to(rate).value),
                "record_out": round(start + rip.end_time_exclusive().rescaled_to(rate).value),
                "source_in": round(src.start_time.rescaled_to(rate).value),
            })
    out[path] = {"title": tl.name, "clips": clips, "transitions": transitions}
json.dump(out, sys.stdout)
