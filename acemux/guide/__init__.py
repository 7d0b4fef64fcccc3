"""TV guides: XMLTV sources fetched and cached, served filtered to acemux's channels."""
