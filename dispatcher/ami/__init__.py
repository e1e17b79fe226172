"""The phone channel's AMI side: frame codec, panoramisk protocol fix, adapter, bench."""
