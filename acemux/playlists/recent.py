"""The channels acemux played lately, newest first, for /playlist.m3u."""

from __future__ import annotations

from collections import OrderedDict

from acemux.streaming.key import ChannelKey

RECENT_CHANNELS = 100


class RecentChannels:
    def __init__(self, limit: int = RECENT_CHANNELS) -> None:
        self._limit = limit
        self._keys: OrderedDict[ChannelKey, None] = OrderedDict()

    def note(self, key: ChannelKey) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key, last=False)
        if len(self._keys) > self._limit:
            self._keys.popitem()

    def keys(self) -> list[ChannelKey]:
        return list(self._keys)
