"""The users file and the token check, socket-free."""

from __future__ import annotations

import pytest

from acemux.config import Settings
from acemux.users import TOKEN_USER, StreamLimitReached, Users, hash_token


def users(tmp_path, text: str, token: str = "") -> Users:
    path = tmp_path / "users.toml"
    path.write_text(text)
    return Users(Settings(users_file=str(path), token=token))


def test_tokens_find_their_user_and_the_shortcut_token_is_an_admin(tmp_path):
    found = users(
        tmp_path,
        f'[users.tv]\ntoken_sha256 = "{hash_token("tv-t")}"\nplaylists = ["a"]\n',
        token="main-t",
    )
    user, token = found.authenticate(["wrong", "tv-t"])
    assert (user.name, token, user.admin) == ("tv", "tv-t", False)
    assert user.may_see("a") and not user.may_see("b")
    admin, _ = found.authenticate(["main-t"])
    assert admin.name == TOKEN_USER and admin.admin and admin.may_see("b")
    assert found.authenticate(["nope", ""]) is None


def test_a_stream_slot_is_given_back_whatever_happens(tmp_path):
    found = users(tmp_path, f'[users.one]\ntoken_sha256 = "{hash_token("t")}"\nmax_streams = 1\n')
    user, _ = found.authenticate(["t"])
    with pytest.raises(RuntimeError):
        with found.stream(user):
            with pytest.raises(StreamLimitReached):
                with found.stream(user):
                    pass
            raise RuntimeError
    assert found.streams("one") == 0
    with found.stream(user):
        assert found.streams("one") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[users.a]\ntoken_sha256 = 'abc'\n", "64 hex digits"),
        (f"[users.a]\ntoken_sha256 = '{'0' * 64}'\nadmin = 'yes'\n", "admin must be"),
        (f"[users.a]\ntoken_sha256 = '{'0' * 64}'\nmax_streams = -1\n", "max_streams"),
        (f"[users.a]\ntoken_sha256 = '{'0' * 64}'\nplaylists = 'a'\n", "playlists must"),
        (f"[users.a]\ntoken_sha256 = '{'0' * 64}'\ncolour = 1\n", "unknown fields"),
        (f"[users.a]\ntoken_sha256 = '{'0' * 64}'\n[users.b]\ntoken_sha256 = '{'0' * 64}'\n",
         "same token"),
        ("[other]\n", r"one \[users\.<name>\] table"),
        ("not toml at all [", "cannot read"),
    ],
)
def test_a_broken_users_file_is_refused_with_its_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        users(tmp_path, text)
