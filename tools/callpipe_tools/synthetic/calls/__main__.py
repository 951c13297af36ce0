"""``python -m callpipe_tools.synthetic.calls OUT_DIR``: write every built-in script as a synthetic call."""

from __future__ import annotations

import argparse
from pathlib import Path

from callpipe_tools.synthetic.calls import SAMPLE_SCRIPTS, generate_call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m callpipe_tools.synthetic.calls", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument("--encoding", choices=["pcm16", "mulaw"], default="pcm16")
    parser.add_argument("--no-mono", action="store_true", help="delete the mono mix after writing")
    args = parser.parse_args(argv)
    for script in SAMPLE_SCRIPTS:
        call = generate_call(script, args.out_dir, args.sample_rate, encoding=args.encoding)
        if args.no_mono:
            call.mono_path.unlink()
        print(f"{call.stereo_path}  {call.duration_s:.1f} s  {call.stereo_path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
