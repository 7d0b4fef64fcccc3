"""M3U playlists: configured sources with their stream links pointed at acemux."""
