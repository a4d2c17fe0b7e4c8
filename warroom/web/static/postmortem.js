// Live blameless check and preview for the postmortem editor. The form works without
// this script: saving re-renders the page with the findings and the preview.
(function () {
  "use strict";
  const form = document.getElementById("pm-form");
  if (!form) return;
  const preview = document.getElementById("pm-preview");
  const csrf = form.querySelector("input[name=csrf]").value;
  let timer = null;

  async function check(field) {
    const body = new URLSearchParams({ csrf: csrf, text: field.value });
    try {
      const r = await fetch(form.dataset.lintUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!r.ok) return;
      const data = await r.json();
      const list = form.querySelector('ul.findings[data-for="' + field.id + '"]');
      if (list) {
        list.replaceChildren();
        for (const f of data.findings) {
          const li = document.createElement("li");
          li.className = "finding";
          li.textContent = "\u201c" + f.phrase + "\u201d (" + f.rule + "): " + f.suggestion;
          list.appendChild(li);
        }
      }
      if (preview && field.id) {
        // The preview shows the section being written, rendered as the export does
        // (the server escapes raw HTML before it reaches the page).
        preview.innerHTML = data.html;
      }
    } catch (e) {
      /* offline: saving still works */
    }
  }

  form.addEventListener("input", function (ev) {
    const field = ev.target;
    if (!field.dataset || !field.dataset.lint) return;
    clearTimeout(timer);
    timer = setTimeout(function () { check(field); }, 250);
  });
})();
