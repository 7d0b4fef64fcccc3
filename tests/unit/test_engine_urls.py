import pytest

from acemux.config import EngineSpec, Settings
from acemux.engine.api import EngineClient

ENGINE = "http://10.1.2.3:6878"


@pytest.mark.parametrize(
    "returned",
    [
        "http://10.1.2.3:6878/ace/r/ab/cd",  # the engine itself
        "http://127.0.0.1:6878/ace/r/ab/cd",  # loopback inside its container
        "http://172.17.0.5:6878/ace/r/ab/cd",  # its container network
        "http://acestream:6878/ace/r/ab/cd",  # its container name
        "http://0.0.0.0:6878/ace/r/ab/cd",
        "/ace/r/ab/cd",  # no host at all
    ],
)
def test_internal_urls_are_rewritten_to_the_engine(returned):
    client = EngineClient(Settings(engine=ENGINE), ENGINE)
    assert client.rebase(returned) == "http://10.1.2.3:6878/ace/r/ab/cd"


@pytest.mark.parametrize(
    "returned", ["http://evil.example.com/ace/r/ab/cd", "https://stream.example.net:443/ace/r/ab"]
)
def test_urls_on_other_hosts_are_refused(returned):
    client = EngineClient(Settings(engine=ENGINE), ENGINE)
    with pytest.raises(ValueError, match="not following"):
        client.rebase(returned)


def test_engine_specs():
    assert EngineSpec.parse(" http://a:1/ ") == EngineSpec("http://a:1")
    assert EngineSpec.parse("https://a:1#max=3") == EngineSpec("https://a:1", 3)
    for bad in ("a:1", "http://a:1#max=0", "http://a:1#cap=3", "ftp://a"):
        with pytest.raises(ValueError):
            EngineSpec.parse(bad)
    with pytest.raises(ValueError, match="twice"):
        Settings(engine="http://a:1,http://a:1")
