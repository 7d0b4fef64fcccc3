// acemux dashboard player: a channel's Watch button plays it here over HLS with hls.js
// (shipped in /static/vendor, no CDN). A channel whose audio or video a browser cannot
// play (the PMT says AC-3, MPEG audio, HEVC…) is played through the profile the API
// names for it (`media.browser_profile`: aac, h264); any other channel as it comes.
// The channels of configured playlists are listed with a Watch button too.
// Uses api(), authHeaders(), bitrate() and TOKEN_KEY of dashboard.js.
"use strict";

const PLAYER_INFO_MS = 2000; // how often the line under the picture is refreshed
const LAYOUT_TRIES = 10; // a just-started channel has no PMT yet: ask again, once a second
const PLAYLISTS_MS = 60000; // playlists change rarely

const player = {
  box: document.getElementById("player"),
  video: document.getElementById("player-video"),
  title: document.getElementById("player-title"),
  info: document.getElementById("player-info"),
  error: document.getElementById("player-error"),
  hls: null,
  timer: null,
  // What the page plays, for people and for tests: key, profile, codecs, error.
  state: null,
};
window.acemuxPlayer = player;

for (const list of ["channels", "playlist-channels"]) {
  document.getElementById(list).addEventListener("click", (event) => {
    const button = event.target.closest("button.watch");
    if (button) watch({ ...button.closest("[data-key]").dataset });
  });
}
document.getElementById("player-close").addEventListener("click", stopPlayer);

async function watch(ref) {
  // ref: {key} of a playing channel, or {key, selector, id, title} of a playlist's channel.
  const key = ref.key;
  stopPlayer();
  player.box.hidden = false;
  player.title.textContent = ref.title ? ref.title + " (" + key + ")" : key;
  showPlayerError("");
  player.info.textContent = "finding out what the channel carries…";
  let stream;
  try {
    if (!isPlaying(key)) {
      player.info.textContent = "starting the channel…";
      await startChannel(ref);
    }
    stream = await channelWithLayout(key);
  } catch (err) {
    showPlayerError("Cannot start the channel: " + err.message);
    return;
  }
  const profile = stream.profile ? stream.profile.name : (stream.media && stream.media.browser_profile);
  const url = manifestUrl(stream, profile);
  player.state = {
    key, profile: profile || "copy", url, media: stream.media, codecs: {}, error: null,
    loaded: false, // the playlist answered: the played channel exists
    playing: false,
  };
  player.box.dataset.profile = profile || "copy";
  refreshInfo();
  start(url);
}

function isPlaying(key) {
  return Boolean(document.querySelector(`#channels .channel[data-key="${CSS.escape(key)}"]`));
}

async function startChannel(ref) {
  // A channel's first HLS playlist starts it and answers once a first segment (so its PMT) is there.
  const resp = await fetch(manifestUrl(ref, null), { headers: authHeaders(), cache: "no-store" });
  if (!resp.ok) {
    const said = acemuxMessage({ responseText: await resp.text() });
    throw new Error("HTTP " + resp.status + (said ? ": " + said : ""));
  }
}

async function channelWithLayout(key) {
  // The codecs come from the PMT the channel's buffer holds; a fresh channel has none yet.
  for (let tries = 1; ; tries++) {
    const stream = await api("GET", "/api/v1/streams/" + encodeURIComponent(key));
    if (stream.media || stream.profile || tries >= LAYOUT_TRIES) return stream;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function manifestUrl(stream, profile) {
  // The key is `<id>[?param=value&…]`: the same parameters make the same channel.
  const [, rest = ""] = stream.key.split(/\?(.*)/s);
  const params = new URLSearchParams(rest);
  params.delete("profile");
  const id = stream.id || stream.key.split("?")[0];
  const named = stream.selector === "channel"; // a named channel has its own URL
  const query = new URLSearchParams(named ? {} : { [stream.selector || "id"]: id });
  for (const [name, value] of params) query.append(name, value);
  if (profile && profile !== "copy") query.set("profile", profile);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) query.set("token", token); // the playlist's segment links carry it on
  const path = named ? "/channel/" + encodeURIComponent(id) + ".m3u8" : "/ace/manifest.m3u8";
  return path + (query.toString() ? "?" + query.toString() : "");
}

function start(url) {
  const video = player.video;
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ liveSyncDurationCount: 3, manifestLoadingMaxRetry: 2 });
    player.hls = hls;
    hls.on(Hls.Events.BUFFER_CODECS, (_, data) => {
      for (const kind of ["audio", "video", "audiovideo"]) {
        if (data[kind]) player.state.codecs[kind] = data[kind].codec || data[kind].container;
      }
      refreshInfo();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      player.state.loaded = true;
      video.play().catch(playRefused);
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) failed(hlsErrorInWords(data));
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url; // Safari plays HLS itself
    video.play().catch(playRefused);
  } else {
    failed("This browser can play neither HLS nor Media Source Extensions.");
    return;
  }
  video.onplaying = () => {
    player.state.loaded = player.state.playing = true;
    refreshInfo();
  };
  video.onerror = () => failed(mediaErrorInWords(video.error));
  player.timer = setInterval(refreshInfo, PLAYER_INFO_MS);
}

function stopPlayer() {
  clearInterval(player.timer);
  player.timer = null;
  if (player.hls) {
    player.hls.destroy();
    player.hls = null;
  }
  const video = player.video;
  video.onplaying = video.onerror = null;
  video.removeAttribute("src");
  video.load();
  player.box.hidden = true;
  player.state = null;
}

function failed(words) {
  if (!player.state) return;
  player.state.error = words;
  showPlayerError(words);
  if (player.hls) player.hls.stopLoad();
}

function playRefused(err) {
  // Browsers refuse sound without a click; muted it may play, and the controls unmute.
  if (err && err.name === "NotAllowedError" && !player.video.muted) {
    player.video.muted = true;
    player.video.play().catch(() => {});
  }
}

function showPlayerError(words) {
  player.error.textContent = words;
  player.error.hidden = !words;
}

// -- the channels of configured playlists ------------------------------------------

async function loadPlaylists() {
  const box = document.getElementById("playlist-channels");
  try {
    const { playlists } = await api("GET", "/api/v1/playlists");
    const answers = await Promise.allSettled(
      playlists.map((p) => api("GET", "/api/v1/playlists/" + encodeURIComponent(p.name) + "/channels"))
    );
    // A playlist this user may not see (404) or cannot be read now is left out.
    const lists = answers.filter((a) => a.status === "fulfilled").map((a) => a.value);
    document.getElementById("playlist-list").replaceChildren(...lists.map(playlistBlock));
    box.hidden = lists.every((list) => list.channels.length === 0);
  } catch {
    // the dashboard says when acemux does not answer or wants its token
  }
  setTimeout(loadPlaylists, PLAYLISTS_MS);
}

function playlistBlock(list) {
  const block = el("details", "playlist");
  block.open = true;
  block.append(el("summary", "", list.playlist + " (" + list.channels.length + ")"));
  for (const channel of list.channels) {
    const row = el("div", "playlist-channel");
    const title = channel.name || channel.key;
    Object.assign(row.dataset, { key: channel.key, selector: channel.selector, id: channel.id, title });
    const watchButton = el("button", "watch", "Watch");
    watchButton.type = "button";
    row.append(el("span", "muted", channel.number), el("span", "", title), watchButton);
    block.append(row);
  }
  return block;
}

loadPlaylists();

// -- saying what plays -------------------------------------------------------------

async function refreshInfo() {
  const state = player.state;
  if (!state) return;
  const playedKey = state.profile === "copy" || state.key.includes("profile=")
    ? state.key
    : state.key + (state.key.includes("?") ? "&" : "?") + "profile=" + state.profile;
  let rate = null;
  try {
    if (state.loaded) {
      rate = (await api("GET", "/api/v1/streams/" + encodeURIComponent(playedKey))).bitrate_in;
    }
  } catch {
    // stopped meanwhile: the line shows no figure
  }
  if (player.state !== state) return;
  const media = state.media;
  const carries = media ? [media.video, media.audio].filter(Boolean).join(" + ") : "not known yet";
  const codecs = Object.values(state.codecs).join(" + ") || "starting…";
  player.info.textContent = [
    "channel: " + carries,
    state.profile === "copy" ? "no profile (raw stream)" : "profile " + state.profile,
    "playing: " + codecs,
    rate === null ? "–" : bitrate(rate),
  ].join(" · ");
}

function hlsErrorInWords(data) {
  const response = data.response || {};
  const said = acemuxMessage(data.networkDetails) || acemuxMessage(response);
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    const what = data.details && data.details.startsWith("manifest") ? "the channel's playlist" : "a segment";
    const status = response.code ? " (HTTP " + response.code + ")" : "";
    return "Could not load " + what + status + (said ? ": " + said : ": acemux did not answer");
  }
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
    return "The browser cannot decode this channel (" + data.details + ")" +
      (player.state && player.state.profile === "copy" ? "; a profile such as aac may help." : ".");
  }
  return "Playback failed: " + data.details;
}

function acemuxMessage(answer) {
  // acemux's errors are {"error": {"code", "message"}}: show the message. hls.js hands
  // over its XMLHttpRequest as networkDetails (responseText), or a response with data.
  if (!answer) return "";
  for (const field of ["responseText", "data", "text"]) {
    try {
      const body = answer[field];
      const message = (typeof body === "string" ? JSON.parse(body) : body).error.message;
      if (message) return message;
    } catch {
      // not this field, or not acemux's JSON
    }
  }
  return "";
}

function mediaErrorInWords(error) {
  if (!error) return "Playback failed.";
  const kinds = { 1: "playback was stopped", 2: "the network failed", 3: "the browser could not decode it", 4: "the browser cannot play this format" };
  return "Playback failed: " + (kinds[error.code] || "unknown error") + (error.message ? " (" + error.message + ")" : "");
}
