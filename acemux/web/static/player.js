// acemux dashboard player: a channel's Watch button plays it here over HLS with hls.js
// (shipped in /static/vendor, no CDN). A channel whose audio or video a browser cannot
// play (the PMT says AC-3, MPEG audio, HEVC…) is played through the profile the API
// names for it (`media.browser_profile`: aac, h264); any other channel as it comes.
// Uses api() and authHeaders() of dashboard.js.
"use strict";

const PLAYER_INFO_MS = 2000; // how often the line under the picture is refreshed
const LAYOUT_TRIES = 10; // a just-started channel has no PMT yet: ask again, once a second

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

document.getElementById("channels").addEventListener("click", (event) => {
  const button = event.target.closest("button.watch");
  if (!button) return;
  const card = button.closest(".channel");
  watch(card.dataset.key);
});
document.getElementById("player-close").addEventListener("click", stopPlayer);

async function watch(key) {
  stopPlayer();
  player.box.hidden = false;
  player.title.textContent = key;
  showPlayerError("");
  player.info.textContent = "finding out what the channel carries…";
  let stream;
  try {
    stream = await channelWithLayout(key);
  } catch (err) {
    showPlayerError("Cannot read the channel: " + err.message);
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
  const query = new URLSearchParams({ [stream.selector]: stream.id });
  for (const [name, value] of params) query.append(name, value);
  if (profile && profile !== "copy") query.set("profile", profile);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) query.set("token", token); // the playlist's segment links carry it on
  return "/ace/manifest.m3u8?" + query.toString();
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
