// Live preview for the update composer. The form works without this script: its
// Preview button re-renders the page with the preview.
(function () {
  "use strict";
  const form = document.getElementById("composer-form");
  if (!form) return;
  const box = document.getElementById("composer-preview");
  const text = document.getElementById("composer-text");
  const list = document.getElementById("composer-warnings");
  let timer = null;
  let seq = 0;

  async function refresh() {
    const mine = ++seq;
    const body = new URLSearchParams(new FormData(form));
    try {
      const r = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const data = await r.json();
      if (mine !== seq) return;
      box.hidden = false;
      list.replaceChildren();
      if (!r.ok) {
        text.textContent = "";
        const li = document.createElement("li");
        li.textContent = data.error || "preview failed";
        list.appendChild(li);
        return;
      }
      text.textContent = data.text;
      for (const w of data.warnings) {
        const li = document.createElement("li");
        li.textContent = w;
        list.appendChild(li);
      }
    } catch (e) {
      /* offline: the Preview button still works */
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
