"""ffmpeg profiles: one ffmpeg per (channel, profile), fed from the raw channel's ring.

A profile's channel is an ordinary ChannelSession whose upstream is an ffmpeg
process instead of an engine (see upstream.py): its output goes through the
same ring, fan-out, join points, HLS segmenter and keep-alive as a raw channel,
and the ffmpeg reads the raw channel like one more viewer of it.
"""
