// Live incident room: appends timeline events as they arrive (server-sent events)
// and keeps the running duration ticking. The page works without it.
(function () {
  const room = document.getElementById("room");
  if (!room) return;
  const list = document.getElementById("timeline");
  const started = Date.parse(room.dataset.started);
  let resolved = room.dataset.resolved ? Date.parse(room.dataset.resolved) : null;
  const durationEl = document.getElementById("duration");

  function fmt(sec) {
    sec = Math.max(0, Math.floor(sec));
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}h ${mm}m ${ss}s` : `${m}m ${ss}s`;
  }
  function tick() {
    if (!isNaN(started)) durationEl.textContent = fmt(((resolved || Date.now()) - started) / 1000);
  }
  setInterval(tick, 1000);

  let shownSeverity = document.getElementById("severity").textContent;
  function applyHead(inc) {
    const st = document.getElementById("status");
    st.textContent = inc.status; st.className = "status status-" + inc.status;
    const sev = document.getElementById("severity");
    sev.textContent = inc.severity; sev.className = "sev sev-" + inc.severity.toLowerCase();
    for (const dd of document.querySelectorAll("#roles dd")) {
      const v = inc.roles[dd.dataset.role];
      dd.textContent = Array.isArray(v) ? (v.join(", ") || "—") : (v || "—");
    }
    resolved = inc.resolved_at ? Date.parse(inc.resolved_at) : null;
    // Keep the forms in step with what others changed, so a submit does what it shows.
    // (Only when the severity changed: a choice being made is left alone.)
    const sevSelect = document.querySelector("#severity-form select[name=severity]");
    if (sevSelect && inc.severity !== shownSeverity) sevSelect.value = inc.severity;
    shownSeverity = inc.severity;
    const stSelect = document.querySelector("#status-form select[name=status]");
    if (stSelect && Array.isArray(inc.allowed_statuses)) {
      const keep = stSelect.value;
      stSelect.replaceChildren(...inc.allowed_statuses.map((s) => new Option(s, s)));
      if (inc.allowed_statuses.includes(keep)) stSelect.value = keep;
    }
  }

  const src = new EventSource(`/incidents/${room.dataset.ref}/stream?after=${room.dataset.last}`);
  const live = document.getElementById("live");
  live.textContent = "connecting…";
  src.addEventListener("open", () => { live.textContent = "live"; live.className = "live"; });
  src.addEventListener("error", () => {
    // A stream that ends is reopened by the browser (it sends Last-Event-ID); one that
    // was refused (logged out, incident gone) is not.
    live.textContent = src.readyState === EventSource.CLOSED ? "offline: reload the page" : "reconnecting…";
    live.className = "live off";
  });
  src.addEventListener("timeline", (e) => {
    const ev = JSON.parse(e.data);
    if (!document.getElementById("event-" + ev.id)) {
      list.insertAdjacentHTML("beforeend", ev.html);
    }
    if (ev.incident) applyHead(ev.incident);
  });
})();
