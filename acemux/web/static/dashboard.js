// acemux dashboard: polls the /api/v1 endpoints and redraws; no framework, no build step.
"use strict";

const POLL_MS = 1000;
const HISTORY_SLOTS = 60; // the server keeps one bitrate sample a second for a minute
const TOKEN_KEY = "acemux-token";

const $ = (id) => document.getElementById(id);
let timer = null;

// -- the token ------------------------------------------------------------------

function takeTokenFromAddress() {
  // `/?token=…` works once; the token then leaves the address bar and history.
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

function askForToken() {
  $("token-label").textContent = sessionStorage.getItem(TOKEN_KEY)
    ? "That token was refused; try again."
    : "This acemux needs its access token.";
  $("token-form").hidden = false;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
  $("token-input").value = "";
  $("token-form").hidden = true;
  refresh();
});

// -- talking to acemux ----------------------------------------------------------

class NeedsToken extends Error {}

async function api(method, path) {
  const resp = await fetch(path, { method, headers: authHeaders(), cache: "no-store" });
  if (resp.status === 401) throw new NeedsToken();
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error ? body.error.message : "HTTP " + resp.status);
  return body;
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [streams, engines, named] = await Promise.all([
      api("GET", "/api/v1/streams"),
      api("GET", "/api/v1/engines"),
      api("GET", "/api/v1/channels"),
    ]);
    showProblem("");
    render(streams.streams, engines.engines);
    renderNamed(named.channels);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    if (err instanceof NeedsToken) {
      askForToken();
      return; // polling resumes when a token is given
    }
    showProblem("acemux is not answering: " + err.message);
  }
  timer = setTimeout(refresh, POLL_MS);
}

async function act(method, path, question) {
  if (!window.confirm(question)) return;
  try {
    await api(method, path);
  } catch (err) {
    if (err instanceof NeedsToken) askForToken();
    else showProblem(err.message);
  }
  refresh();
}

function showProblem(text) {
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

// -- drawing --------------------------------------------------------------------

function render(streams, engines) {
  renderEngines(engines);
  const clients = streams.reduce((n, s) => n + s.clients.length, 0);
  $("channel-count").textContent = streams.length;
  $("client-count").textContent = clients;
  $("bitrate-in").textContent = bitrate(sum(streams, "bitrate_in"));
  $("bitrate-out").textContent = bitrate(sum(streams, "bitrate_out"));
  $("no-channels").hidden = streams.length > 0;

  const list = $("channels");
  const seen = new Set();
  for (const stream of streams) {
    seen.add(stream.key);
    let card = list.querySelector(`[data-key="${CSS.escape(stream.key)}"]`);
    if (!card) {
      card = newChannelCard(stream);
      list.appendChild(card);
    }
    fillChannelCard(card, stream);
  }
  for (const card of [...list.children]) {
    if (!seen.has(card.dataset.key)) card.remove();
  }
}

function renderNamed(channels) {
  // Named channels: which source plays, and each source's state and liveness score.
  $("named").hidden = channels.length === 0;
  $("named").querySelector("tbody").replaceChildren(
    ...channels.map((channel) => {
      const row = el("tr", "named-channel");
      row.dataset.slug = channel.slug;
      const flags = (channel.warm ? " · warm" : "") + (channel.live ? " · live" : "");
      const sources = el("td", "sources");
      for (const source of channel.sources) {
        const item = el("span", "source " + source.state,
          (source.state === "playing" ? "▶ " : "") + source.id.slice(0, 8) + "… " +
          source.state + " " + source.score);
        item.title = source.key + (source.last_error ? "\n" + source.last_error : "");
        sources.append(item, text(" "));
      }
      row.append(el("td", "", channel.name + " (/channel/" + channel.slug + ")"),
        el("td", "named-state", channel.state + flags), sources);
      return row;
    })
  );
}

function renderEngines(engines) {
  const box = $("engines");
  box.replaceChildren(
    ...engines.map((engine) => {
      const state = engine.up === null ? "unknown" : engine.up ? "up" : "down";
      const pill = el("span", "engine " + state);
      // Provisioned engines also show their provider and life-cycle state.
      const provisioned = engine.provider && engine.provider !== "static";
      const label = provisioned
        ? `${hostOf(engine.url)} ${state} · ${engine.provider} ${engine.state}`
        : hostOf(engine.url) + " " + state;
      pill.append(el("span", "dot"), text(label));
      pill.dataset.state = engine.state || "ready";
      pill.title = engine.up
        ? "version " + (engine.version || "?")
        : engine.last_error || "not checked yet";
      if (provisioned) {
        pill.title +=
          `\n${engine.provider} ${engine.id}, ${Math.round(engine.age_seconds)} s old, ` +
          `${engine.restarts} restarts, ${engine.channels} channels` +
          (engine.reason ? `\n${engine.state}: ${engine.reason}` : "");
      }
      return pill;
    })
  );
}

function newChannelCard(stream) {
  const card = $("channel-template").content.firstElementChild.cloneNode(true);
  card.dataset.key = stream.key;
  card.querySelector(".channel-id").textContent = stream.key;
  card.querySelector(".stop").addEventListener("click", () =>
    act(
      "DELETE",
      "/api/v1/streams/" + encodeURIComponent(stream.key),
      "Stop channel " + stream.id + "? Its clients are disconnected."
    )
  );
  return card;
}

function fillChannelCard(card, stream) {
  // A channel from a playlist shows its number, name and logo; the content id stays as a tooltip.
  const title = card.querySelector(".channel-id");
  const channel = stream.channel;
  title.textContent = channel ? channel.number + " · " + channel.name : stream.key;
  title.title = stream.key;
  const logo = card.querySelector(".channel-logo");
  logo.hidden = !(channel && channel.logo);
  if (channel && channel.logo && logo.getAttribute("src") !== channel.logo) logo.src = channel.logo;

  const state = card.querySelector(".state");
  state.textContent = stream.state;
  state.className = "state " + stream.state;

  const facts = [
    ["uptime", duration(stream.uptime_seconds)],
    ["bitrate in", bitrate(stream.bitrate_in)],
    ["bitrate out", bitrate(stream.bitrate_out)],
    ["received", bytes(stream.bytes_in)],
    ["sent", bytes(stream.bytes_out)],
    ["reconnects", String(stream.reconnects)],
    ["clients", String(stream.clients.length)],
    ["engine", stream.engine.url ? hostOf(stream.engine.url) : "–"],
  ];
  if (stream.media) {
    facts.push(["codecs", [stream.media.video, stream.media.audio].filter(Boolean).join(" + ")]);
  }
  if (stream.profile) {
    const p = stream.profile; // an ffmpeg profile of another channel (acemux/profiles)
    facts.push(["profile", p.name + (p.pid ? " (ffmpeg " + p.pid + ")" : "")],
      ["profile CPU", p.cpu_seconds.toFixed(1) + " s"], ["profile restarts", String(p.restarts)]);
  }
  if (stream.last_error) facts.push(["last error", stream.last_error]);
  card.querySelector(".facts").replaceChildren(
    ...facts.map(([name, value]) => {
      const item = el("div");
      item.append(el("dt", "", name), el("dd", "", value));
      return item;
    })
  );

  drawSparkline(card.querySelector(".sparkline"), stream.history.bitrate_in);
  card.querySelector(".clients tbody").replaceChildren(
    ...stream.clients.map((client) => clientRow(stream, client))
  );
}

function clientRow(stream, client) {
  const row = el("tr", "client");
  row.dataset.client = client.id;
  const lagging = !client.live || client.lag_bytes > 0;
  const agent = el("td", "agent", client.user_agent || "–");
  agent.title = client.user_agent;
  const drop = el("button", "drop danger", "Drop");
  drop.type = "button";
  drop.addEventListener("click", () =>
    act(
      "DELETE",
      "/api/v1/streams/" + encodeURIComponent(stream.key) + "/clients/" + client.id,
      "Disconnect client " + client.id + " (" + client.address + ")?"
    )
  );
  const action = el("td");
  action.append(drop);
  row.append(
    el("td", "", "#" + client.id),
    el("td", "", client.user ? client.user + " @ " + client.address : client.address),
    agent,
    el("td", "", new Date(client.connected_at * 1000).toLocaleTimeString() +
      " (" + duration(client.connected_seconds) + ")"),
    el("td", "", bytes(client.bytes_sent)),
    el("td", lagging ? "lagging" : "", lag(client)),
    action
  );
  return row;
}

function drawSparkline(svg, values) {
  // 120 x 32 box; the highest rate reaches 80% of the height, so a steady one reads as steady.
  const recent = values.slice(-HISTORY_SLOTS);
  const top = Math.max(1, ...recent) * 1.25;
  const step = 120 / (HISTORY_SLOTS - 1);
  const start = HISTORY_SLOTS - recent.length; // newest sample at the right edge
  const points = recent.map(
    (v, i) => `${((start + i) * step).toFixed(1)},${(32 - (v / top) * 30).toFixed(1)}`
  );
  svg.querySelector(".spark-in").setAttribute("points", points.join(" "));
  const area = points.length
    ? [`${(start * step).toFixed(1)},32`, ...points, "120,32"].join(" ")
    : "";
  svg.querySelector(".spark-area").setAttribute("points", area);
}

// -- small helpers --------------------------------------------------------------

function el(tag, className = "", content = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== null) node.textContent = content; // never innerHTML: user agents are untrusted
  return node;
}

const text = (value) => document.createTextNode(value);
const sum = (items, field) => items.reduce((n, item) => n + (item[field] || 0), 0);

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function bitrate(bps) {
  if (bps === null || bps === undefined) return "–";
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + " Mbit/s";
  if (bps >= 1e3) return (bps / 1e3).toFixed(0) + " kbit/s";
  return bps.toFixed(0) + " bit/s";
}

function bytes(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " GB";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
  if (n >= 1e3) return (n / 1e3).toFixed(0) + " kB";
  return n + " B";
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " m " + String(s % 60).padStart(2, "0") + " s";
  return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " m";
}

function lag(client) {
  if (client.lag_bytes === 0) return "live";
  const seconds = client.lag_seconds === null ? "" : " (" + client.lag_seconds.toFixed(1) + " s)";
  return bytes(client.lag_bytes) + seconds;
}

takeTokenFromAddress();
refresh();
