#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/seeds/<target>/ (not committed;
the committed corpus is what `cargo fuzz cmin` kept of seeds + finds).

WAV seeds are the real recorder files of ../shared/real/recorders (see its README)
with each data chunk cut to 64 bytes (every other chunk kept: fmt, bext, iXML,
ds64, cue, LIST, ...), plus small files ffmpeg writes in each sample format.
FLAC seeds come from ffmpeg. Text seeds are the README's session examples and
small spotting lists, manifests and HTTP heads."""
import gzip, os, re, struct, subprocess, sys, glob

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "fuzz", "seeds")
real = os.path.join(root, "..", "shared", "real", "recorders")
if not os.path.isdir(real):
    real = "/work/shared/real/recorders"

def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def shrink_riff(b, keep=64):
    """Cut the data chunk of a RIFF/RF64/BW64 file to `keep` bytes, fixing sizes."""
    magic = b[:4]
    if b[8:12] != b"WAVE":
        return None
    pos, chunks = 12, []
    while pos + 8 <= len(b):
        cid, size = b[pos:pos+4], struct.unpack("<I", b[pos+4:pos+8])[0]
        if cid == b"data":
            chunks.append((cid, b[pos+8:pos+8+keep]))
            if magic != b"RIFF" or size == 0xFFFFFFFF:
                break
            pos += 8 + size + (size & 1)
            continue
        body = b[pos+8:pos+8+size]
        if cid in (b"JUNK", b"FLLR", b"PAD ", b"junk") and size > 64:
            body = body[:16]
        if cid == b"ds64" and len(body) >= 24:
            body = struct.pack("<QQQ", 0, keep, 0) + body[24:]
        chunks.append((cid, body))
        pos += 8 + size + (size & 1)
    data = b"WAVE"
    for cid, body in chunks:
        sz = len(body)
        if magic != b"RIFF" and cid == b"data":
            hdr = cid + struct.pack("<I", 0xFFFFFFFF)
        else:
            hdr = cid + struct.pack("<I", sz)
        data += hdr + body + (b"\0" if sz & 1 else b"")
    total = len(data)
    if magic == b"RIFF":
        riff = struct.pack("<I", total)
    else:
        riff = struct.pack("<I", 0xFFFFFFFF)
        # fix ds64 riff size
        i = data.find(b"ds64")
        if i >= 0:
            data = data[:i+8] + struct.pack("<Q", total) + data[i+16:]
    return magic + riff + data

n = 0
for p in sorted(glob.glob(os.path.join(real, "**", "*"), recursive=True)):
    if os.path.isdir(p):
        continue
    if p.endswith(".gz"):
        with gzip.open(p, "rb") as f:
            b = f.read(1 << 16)
    else:
        with open(p, "rb") as f:
            b = f.read()
    s = shrink_riff(b)
    if s:
        n += 1
        put("wav", "real-%02d-%s" % (n, re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(p))[:40]), s)

def ff(args, path):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=1000:sample_rate=48000:duration=0.002"] + args + [path], check=True)
    with open(path, "rb") as f:
        return f.read()

tmp = "/tmp/dubstage-seeds"
os.makedirs(tmp, exist_ok=True)
for codec in ["pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"]:
    put("wav", "ff-%s.wav" % codec, ff(["-c:a", codec], f"{tmp}/{codec}.wav"))
put("wav", "ff-51.wav", ff(["-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0", "-c:a", "pcm_s24le"], f"{tmp}/51.wav"))
put("wav", "ff-rf64.wav", ff(["-c:a", "pcm_s24le", "-rf64", "always"], f"{tmp}/rf64.wav"))
put("wav", "ff-bext.wav", ff(["-c:a", "pcm_s24le", "-write_bext", "1", "-metadata", "description=fuzz seed",
                              "-metadata", "time_reference=172800000"], f"{tmp}/bext.wav"))
for bits, fmt in [(16, "s16"), (24, "s32")]:
    for ch in ["mono", "stereo", "5.1"]:
        put("flac", f"ff-{bits}-{ch}.flac",
            ff(["-af", f"aformat=channel_layouts={ch}:sample_fmts={fmt}", "-c:a", "flac"],
               f"{tmp}/{bits}-{ch}.flac"))

readme = open(os.path.join(root, "README.md")).read()
for i, block in enumerate(re.findall(r"```toml\n(.*?)```", readme, re.S)):
    put("session", f"readme-{i}.toml", block)
put("session", "minimal.toml", '[reel]\ntitle = "T"\nframe_rate = "24"\n\n[[stem]]\nid = "dx"\nkind = "dialogue"\nsource = "dx.wav"\n')
put("session", "drop.toml", '[reel]\ntitle = "T"\nframe_rate = "29.97df"\nstart = "01:00:00;00"\nlength = "00:01:00;00"\nlayout = "7.1"\n\n[[stem]]\nid = "m"\nkind = "music"\nsources = ["a.wav", "b.wav"]\nchannel_order = ["L", "R"]\nstart = "01:00:10;02"\n')

csv = [
    "cue,type,in,out,character,line,reason,note\r\n1A01,ADR,01:00:10:00,01:00:12:05,MARY,\"He said, \"\"no\"\"\",noise,\r\n,Foley,01:00:20:00,,,,footsteps,\r\n",
    "TC In,Type,Description\n01:00:01:00,fx,door slam\n",
    "type,in,line,note\nNote,01:00:10:00,'-6 dB dip,'=HYPERLINK(\"x\")\nMusic,01:02:00:00,\"multi\nline\",@SUM(1)\n",
    "type,in,out\nADR,01:00:59;29,01:01:00;02\n",
    "cue,type,in\n1A4294967295,ADR,01:00:00:00\n,ADR,01:00:01:00\n",
]
for i, t in enumerate(csv):
    put("spot_csv", f"seed-{i}.csv", t)
js = [
    '{"format":"dubstage-spot/1","title":"T","reel":"1","frame_rate":"24","markers":[{"cue":"1A01","type":"ADR","in":"01:00:10:00","out":"01:00:12:00","character":"MARY","line":"Where?","reason":"noise","note":""}]}',
    '[{"type":"fx","in":"01:00:01:00"},{"type":"music","in":"01:00:02:00","out":""}]',
    '{"markers":[{"type":"Note","in":"01:00:01:00","note":"=1+1"}]}',
    '[{"type":"adr","in":"01:00:01:00","cue":"1A99999999999"}]',
    '{"format":"other/1","markers":[]}',
]
for i, t in enumerate(js):
    put("spot_json", f"seed-{i}.json", t)

man = {
    "format": "dubstage-preview/1", "title": "T", "reel": "1", "reel_number": 1, "sample_rate": 48000,
    "frame_rate": "24", "start": "01:00:00:00", "ffoa": None, "length": 2880000, "layout": "2.0",
    "mix_layout": "2.0", "audio": {"encoding": "s16le", "chunk_frames": 49152, "chunks": 59, "description": ""},
    "master_gain_db": 0.0, "master_note": "",
    "stems": [{"id": "dx", "kind": "dialogue", "bus": "DX", "source_layout": "1.0", "layout": "1.0", "gain_db": 0.0,
               "mute": False, "pan": 0.0, "pan_surround": 0.0, "automation": [[0, 0.0], [48000, -6.0]],
               "storage_gain": 1.0,
               "inserts": [{"type": "eq", "bands": [{"kind": "high_pass", "freq": 80.0, "slope": 24}]},
                           {"type": "trim", "db": -1.5}],
               "sends": [{"to": "room", "db": -8.0, "pre_fader": False, "automation": []}]}],
    "buses": [{"id": "DX", "dialogue": True, "gain_db": 0.0, "automation": []},
              {"id": "MX", "dialogue": False, "gain_db": 0.0, "automation": []}],
    "returns": [{"id": "room", "bus": "DX", "layout": "1.0", "gain_db": 0.0, "automation": [], "inserts": []}],
    "irs": [], "processing_note": "", "peak_levels": [512, 4096, 32768], "loudness": "loudness/loudness.json",
    "video": {"src": "video/proxy.webm", "offset": 0.0}, "generator": "seed",
}
import json
put("manifest", "seed-0.json", json.dumps(man))
m2 = dict(man); m2["length"] = 9223372036854775807
put("manifest", "seed-huge-length.json", json.dumps(m2))
m3 = dict(man); m3["mix_layout"] = "5.1"; m3["layout"] = "5.1"; m3["frame_rate"] = "29.97df"; m3["start"] = "01:00:00;00"
put("manifest", "seed-51.json", json.dumps(m3))
for p in glob.glob(os.path.join(root, "fuzz", "extra-seeds", "manifest", "*")):
    put("manifest", os.path.basename(p), open(p, "rb").read())

heads = [
    b"GET /0123456789abcdef0123456789abcdef/index.html HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
    b"GET /t/audio/dx/000001.pcm HTTP/1.1\r\nHost: localhost:8000\r\nRange: bytes=0-1023\r\n\r\n",
    b"HEAD /t/video/proxy.webm HTTP/1.1\r\nHost: [::1]:80\r\nRange: bytes=-500\r\n\r\n",
    b"GET /t/%2e%2e/etc/passwd?x=1#f HTTP/1.0\nHost: evil.example:8000\n\n",
    b"POST / HTTP/1.1\r\nHost: a:1\r\nContent-Length: 5\r\n\r\nhello",
    b"GET / HTTP/1.1\r\nHost: a:1\r\n folded\r\n\r\n",
]
for i, h in enumerate(heads):
    put("http", f"seed-{i}.txt", h)
print("seeds written to", out)
